"""precli plan: the exact knapsack against brute force, budgets, pins, bit accounting, the
emitters (PyYAML and a llama-quantize argument parser written from its source as
oracles), and the command end to end on generated safetensors checkpoints.

Oracles: brute force over every assignment with exact Fraction sums of the errors
params * 10**(-SQNR/10) computed here; storage bits written out by hand from the specs;
PyYAML; shlex + Python's re for the llama-quantize arguments (llama.cpp splits
``--tensor-type`` at the first '=', lowercases the pattern and std::regex_search-es it in
the tensor name); ml_dtypes for one SQNR.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import shlex
from fractions import Fraction
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from precli.array.recipes import Defaults, parse_recipe
from precli.cli.app import app
from precli.errors import UsageError
from precli.model import plan as P

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1"}


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=ENV)
    return r.exit_code, r.stdout, r.stderr


# ------------------------------------------------------------------ oracles


def err(params: int, sqnr: float | None) -> Fraction:
    """The objective term, independently: params * 10**(-SQNR/10) as an exact Fraction of
    its float64 value (inf SQNR: 0)."""
    if sqnr is None or sqnr == math.inf:
        return Fraction(0)
    return Fraction(params * 10.0 ** (-sqnr / 10.0))


def allowed(it: P.Item, min_sqnr: float | None) -> list[P.Choice]:
    if it.pin is not None:  # a pin below the floor makes the budget unmeetable
        return [c for c in it.choices if c.recipe == it.pin and (
            min_sqnr is None or c.sqnr_db is None or c.sqnr_db >= min_sqnr)]
    return [c for c in it.choices if c.lost == 0 and (
        min_sqnr is None or c.sqnr_db is None or c.sqnr_db >= min_sqnr)]


def assignments(items: list[P.Item], min_sqnr: float | None
                ) -> list[tuple[int, Fraction, float]] | None:
    """(bits, exact error, worst SQNR of the free tensors) of every assignment."""
    opts = [allowed(it, min_sqnr) for it in items]
    if any(not o for o in opts):
        return None
    terms = [[err(it.params, c.sqnr_db) for c in o] for it, o in zip(items, opts, strict=True)]
    den = max((f.denominator for t in terms for f in t), default=1)  # powers of two
    ints = [[int(f * den) for f in t] for t in terms]
    out = []
    for combo in itertools.product(*[range(len(o)) for o in opts]):
        bits = e = 0
        worst = math.inf
        for i, j in enumerate(combo):
            c = opts[i][j]
            bits += c.bits
            e += ints[i][j]
            if items[i].pin is None and c.sqnr_db is not None:
                worst = min(worst, c.sqnr_db)
        out.append((bits, Fraction(e, den), worst))
    return out


_CACHE: list[Any] = [None, None, None]  # items (by identity), min_sqnr, assignments


def brute(items: list[P.Item], cap: int | None, min_sqnr: float | None, objective: str
          ) -> tuple[Fraction, int, float] | None:
    """(error, bits, worst SQNR of free tensors) of the best assignment by brute force:
    error objective: least error, then least bits; worst: highest free worst SQNR, then
    least error, then least bits; no cap: least bits, then least error."""
    if _CACHE[0] is not items or _CACHE[1] != min_sqnr:
        _CACHE[:] = [items, min_sqnr, assignments(items, min_sqnr)]
    alls = _CACHE[2]
    if alls is None:
        return None
    best: tuple[Any, ...] | None = None
    out = None
    for bits, e, worst in alls:
        if cap is not None and bits > cap:
            continue
        if cap is None:
            key: tuple[Any, ...] = (bits, e)
        elif objective == "worst":
            key = (-worst, e, bits)
        else:
            key = (e, bits)
        if best is None or key < best:
            best, out = key, (e, bits, worst)
    return out


def random_items(rng: random.Random, n: int, m: int, pins: bool = True) -> list[P.Item]:
    """Random instances with ties, lost values, dominated and exact choices."""
    items = []
    sqnr_pool = [10.0, 12.5, 20.0, 20.0, 31.25, 40.0, math.inf]
    for i in range(n):
        params = rng.choice([16, 64, 100, 256, 1000])
        choices = []
        for j in range(m):
            bits = params * rng.choice([4, 8, 16]) + rng.choice([0, 0, 32, 64, 100])
            sq = rng.choice(sqnr_pool) if rng.random() < 0.5 else round(rng.uniform(5, 60), 3)
            lost = 1 if rng.random() < 0.1 else 0
            choices.append(P.Choice(f"r{j}", bits, -math.inf if lost else sq,
                                    math.inf if lost else P.tensor_error(params, sq), lost, j))
        if rng.random() < 0.5:
            choices.append(P.Choice("stored", params * 16, math.inf, 0.0))
        pin = None
        if pins and rng.random() < 0.15:
            ok = [c.recipe for c in choices if c.lost == 0]
            if ok:
                pin = rng.choice(ok)
        items.append(P.Item(f"t{i}", "BF16", "bf16", (params,), params, tuple(choices), pin,
                            "test pin" if pin else None))
    return items


def check_against_brute(items: list[P.Item], budget: P.Budget, objective: str) -> None:
    params = sum(it.params for it in items)
    cap = budget.cap(params)
    want = brute(items, cap, budget.min_sqnr, objective)
    if want is None:
        with pytest.raises(P.PlanError):
            P.solve(items, budget, objective)
        return
    s = P.solve(items, budget, objective)
    assert s.optimal and s.gap == 0
    got_err = sum((err(it.params, c.sqnr_db) for it, c in zip(items, s.picks, strict=True)),
                  Fraction(0))
    assert s.objective == got_err
    if cap is not None:
        assert s.bits <= cap
    for it, c in zip(items, s.picks, strict=True):
        assert c in allowed(it, budget.min_sqnr)
    w_err, w_bits, w_worst = want
    if cap is None:
        assert (s.bits, s.objective) == (w_bits, w_err)
    elif objective == "worst":
        free = [math.inf if c.sqnr_db is None else c.sqnr_db
                for it, c in zip(items, s.picks, strict=True) if it.pin is None]
        assert (min(free) if free else math.inf) == w_worst
        assert (s.objective, s.bits) == (w_err, w_bits)
    else:
        assert (s.objective, s.bits) == (w_err, w_bits)


# ------------------------------------------------------------------ optimality


@pytest.mark.parametrize("seed", range(40))
def test_optimal_against_brute_force_bits_budgets(seed: int) -> None:
    rng = random.Random(seed)
    items = random_items(rng, rng.randint(1, 8), rng.randint(1, 4))
    params = sum(it.params for it in items)
    lo = sum(min(c.bits for c in it.choices) for it in items)
    hi = sum(max(c.bits for c in it.choices) for it in items)
    for _ in range(12):
        cap = rng.randint(max(1, lo - params), hi + params)
        b = Fraction(cap, params)
        check_against_brute(items, P.Budget(bits=b), "error")


@pytest.mark.parametrize("seed", range(20))
def test_optimal_against_brute_force_size_and_floor(seed: int) -> None:
    rng = random.Random(1000 + seed)
    items = random_items(rng, rng.randint(1, 8), rng.randint(1, 4))
    lo = sum(min(c.bits for c in it.choices) for it in items)
    hi = sum(max(c.bits for c in it.choices) for it in items)
    for _ in range(8):
        size = rng.randint(max(1, lo // 8 - 10), hi // 8 + 10)
        floor = rng.choice([None, 12.0, 20.0, 30.0])
        check_against_brute(items, P.Budget(size=size, min_sqnr=floor), "error")
        check_against_brute(items, P.Budget(size=size, min_sqnr=floor), "worst")


@pytest.mark.parametrize("seed", range(20))
def test_min_sqnr_alone_is_the_smallest_plan(seed: int) -> None:
    rng = random.Random(2000 + seed)
    items = random_items(rng, rng.randint(1, 7), rng.randint(1, 4))
    for db in (5.0, 12.5, 20.0, 33.0, 61.0):
        check_against_brute(items, P.Budget(min_sqnr=db), "error")


def test_mckp_against_brute_force_on_integer_instances() -> None:
    """The bare knapsack: random integer (bits, key) options, many capacities."""
    rng = random.Random(7)
    for _ in range(150):
        groups = [[(rng.randint(1, 30), rng.randint(0, 40)) for _ in range(rng.randint(1, 4))]
                  for _ in range(rng.randint(1, 7))]
        allbits = [sum(c) for c in itertools.product(*[[b for b, _ in g] for g in groups])]
        for cap in rng.sample(range(min(allbits) - 3, max(allbits) + 3), 6):
            want = min((sum(k for _, k in combo) for combo in itertools.product(*groups)
                        if sum(b for b, _ in combo) <= cap), default=None)
            res = P.solve_mckp(groups, cap)
            if want is None:
                assert res is None
                continue
            assert res is not None and res.optimal and res.key == want == res.bound
            assert sum(groups[g][j][0] for g, j in enumerate(res.choice)) <= cap
            assert sum(groups[g][j][1] for g, j in enumerate(res.choice)) == want


def test_node_limit_reports_a_proven_bound() -> None:
    rng = random.Random(11)
    stopped = 0
    for _ in range(80):
        groups = [[(rng.randint(1, 50), rng.randint(0, 10**6)) for _ in range(4)]
                  for _ in range(6)]
        cap = sum(g[0][0] for g in groups) + rng.randint(0, 150)
        want = min((sum(k for _, k in c) for c in itertools.product(*groups)
                    if sum(b for b, _ in c) <= cap), default=None)
        res = P.solve_mckp(groups, cap, node_limit=1)
        if want is None:
            assert res is None
            continue
        assert res is not None
        assert res.bound <= want <= res.key
        if res.optimal:
            assert res.key == want
        else:
            stopped += 1
    assert stopped > 0  # the limit was reached on some instances


def test_larger_instance_is_fast_and_optimal() -> None:
    """300 tensors x 5 recipes: solved to proven optimality well under the node limit."""
    rng = random.Random(3)
    items = random_items(rng, 300, 5, pins=False)
    params = sum(it.params for it in items)
    for b in (5, 6.5, 9, 12):
        s = P.solve(items, P.Budget(bits=Fraction(b)))
        assert s.optimal
        assert s.bits <= math.floor(Fraction(b) * params)


# ------------------------------------------------------------------ budgets, ties, pins


def test_unmeetable_budgets_say_why() -> None:
    items = [P.Item("w", "BF16", "bf16", (100,), 100, (
        P.Choice("nvfp4", 450, 20.0, P.tensor_error(100, 20.0), 0, 0),
        P.Choice("stored", 1600, math.inf, 0.0)))]
    with pytest.raises(P.PlanError, match=r"cannot be met: even the cheapest allowed "
                                          r"recipes need 4\.5 bits per parameter, 57 bytes"):
        P.solve(items, P.Budget(bits=Fraction(4)))
    with pytest.raises(P.PlanError, match="cannot be met"):
        P.solve(items, P.Budget(size=56))
    assert P.solve(items, P.Budget(size=57)).bits == 450
    lossy = [P.Item("w", "F32", "fp32", (10, 10), 100, (
        P.Choice("e4m3fn", 800, -math.inf, math.inf, 3, 0),
        P.Choice("bf16", 1600, 30.0, P.tensor_error(100, 30.0), 0, 1)))]
    with pytest.raises(P.PlanError, match=r"no recipe reaches min_sqnr 40 dB without loss "
                                          r"in tensor 'w' \(best: 30\.00 dB\)"):
        P.solve(lossy, P.Budget(min_sqnr=40.0))
    s = P.solve(lossy, P.Budget(bits=Fraction(16)))
    assert s.picks[0].recipe == "bf16"  # the lossy recipe is never chosen
    with pytest.raises(P.PlanError):
        P.solve(lossy, P.Budget(bits=Fraction(8)))


def test_ties_go_to_the_earlier_recipe_then_fewer_bits() -> None:
    same = P.tensor_error(64, 25.0)
    it = P.Item("w", "BF16", "bf16", (8, 8), 64, (
        P.Choice("a", 512, 25.0, same, 0, 0), P.Choice("b", 512, 25.0, same, 0, 1),
        P.Choice("c", 600, 25.0, same, 0, 2)))
    for budget in (P.Budget(bits=Fraction(16)), P.Budget(min_sqnr=20.0)):
        s = P.solve([it, it], budget)
        assert [c.recipe for c in s.picks] == ["a", "a"]


def canon(text: str) -> str:
    return parse_recipe(text).text


def recipes(*texts: str, scheme: str | None = None) -> list[Any]:
    return [parse_recipe(t, Defaults(scheme=scheme)) for t in texts]


class FakeStats:
    def __init__(self, sqnr: float | None, lost: int = 0) -> None:
        self.sqnr_db, self.lost = sqnr, lost


class FakeTensor:
    """The fields of precli.model.analyze.TensorResult that plan reads."""

    def __init__(self, name: str, shape: tuple[int, ...], sqnrs: list[float | None],
                 fmt: str = "bf16", skip: str | None = None) -> None:
        self.name, self.shape, self.format, self.skip = name, shape, fmt, skip
        self.dtype = fmt.upper()
        self.params = math.prod(shape)
        self.nbytes = self.params * 2
        self.stats = [] if skip else [FakeStats(s) for s in sqnrs]


def test_pins_first_match_wins_and_one_d_tensors_keep_their_precision() -> None:
    rs = recipes("e4m3fn:tensor", "nvfp4", "bf16")
    keeps = [P.parse_keep("lm_head|embed=bf16", canon), P.parse_keep("head=nvfp4", canon)]
    ts = [FakeTensor("lm_head.weight", (64, 64), [30.0, 20.0, math.inf]),
          FakeTensor("layers.0.norm.weight", (64,), [30.0, 20.0, math.inf]),
          FakeTensor("layers.0.q.weight", (64, 64), [30.0, 20.0, math.inf]),
          FakeTensor("ids", (64,), [], fmt="int64", skip="integer tensor")]
    items, skipped = P.build_items(ts, rs, keeps)
    assert skipped == [("ids", "INT64", "integer tensor")]
    by = {it.name: it for it in items}
    assert by["lm_head.weight"].pin == "bf16"  # the first --keep that matches
    assert by["lm_head.weight"].pin_reason == "--keep lm_head|embed=bf16"
    assert by["layers.0.norm.weight"].pin == "bf16"  # 1-D: bf16 is its stored format
    assert by["layers.0.q.weight"].pin is None
    # bf16 is among the recipes: no separate "stored" choice
    assert all(c.recipe != "stored" for it in items for c in it.choices)
    s = P.solve(items, P.Budget(bits=Fraction(11)))  # tight: pins are honoured anyway
    assert [c.recipe for c in s.picks] == ["bf16", "bf16", "nvfp4"]
    ts2 = [FakeTensor(t.name, t.shape, [30.0, 20.0], t.format, t.skip) for t in ts]
    items2, _ = P.build_items(ts2, recipes("e4m3fn:tensor", "nvfp4"), [], default_pins=True)
    norm = next(it for it in items2 if it.name == "layers.0.norm.weight")
    assert norm.pin == "stored" and norm.stored_bits == 64 * 16
    assert all(any(c.recipe == "stored" for c in it.choices) for it in items2)
    items3, _ = P.build_items(ts2, recipes("e4m3fn:tensor", "nvfp4"), [], default_pins=False)
    assert all(it.pin is None for it in items3)
    items4, _ = P.build_items(ts2, recipes("e4m3fn:tensor", "nvfp4"), [], offer_stored=False)
    assert [any(c.recipe == "stored" for c in it.choices) for it in items4] == [
        False, True, False]  # only the pinned 1-D tensor keeps "stored"
    with pytest.raises(UsageError, match="mxfp4 is not in formats"):
        P.build_items(ts, rs, [P.parse_keep("x=mxfp4", canon)])
    with pytest.raises(UsageError, match="REGEX=RECIPE"):
        P.parse_keep("lm_head", canon)
    with pytest.raises(UsageError, match="bad regular expression"):
        P.parse_keep("(=bf16", canon)


def test_pin_that_loses_values_or_misses_the_floor_is_refused() -> None:
    rs = recipes("e4m3fn", "bf16")
    t = FakeTensor("w", (8, 8), [None, 30.0], fmt="fp32")
    t.stats[0] = FakeStats(-math.inf, lost=2)
    with pytest.raises(P.PlanError, match="pinned to e4m3fn .* loses 2 of its values"):
        P.build_items([t], rs, [P.parse_keep("w=e4m3fn", canon)])
    items, _ = P.build_items([t], rs, [P.parse_keep("w=bf16", canon)])
    with pytest.raises(P.PlanError, match="pinned to bf16 .* at 30.00 dB, below min_sqnr"):
        P.solve(items, P.Budget(min_sqnr=40.0))


def test_budget_parsing() -> None:
    assert P.parse_size("4GB") == 4 * 10**9
    assert P.parse_size("4GiB") == 4 * 2**30
    assert P.parse_size("1.5 mb") == 1_500_000
    assert P.parse_size("0.5KiB") == 512
    assert P.parse_size("1234") == 1234
    assert P.parse_size("10.9B") == 10
    for bad in ("4G", "GB", "-1GB", "0", "4 GBs", ""):
        with pytest.raises(UsageError):
            P.parse_size(bad)
    assert P.parse_bits("5.5") == Fraction(11, 2)
    for bad in ("x", "0", "-1"):
        with pytest.raises(UsageError):
            P.parse_bits(bad)
    assert P.Budget(bits=Fraction(11, 2)).cap(1001) == 5505  # floor(5.5 * 1001)
    assert P.Budget(size=100).cap(1) == 800
    with pytest.raises(UsageError, match="not both"):
        P.Budget(bits=Fraction(4), size=10)
    with pytest.raises(UsageError, match="give a budget"):
        P.Budget()


def test_objective_terms() -> None:
    assert P.tensor_error(1000, 20.0) == pytest.approx(10.0, rel=1e-15)
    assert P.tensor_error(1000, math.inf) == 0.0
    assert P.tensor_error(1000, None) == 0.0
    assert P.tensor_error(1000, -math.inf) == math.inf


# ------------------------------------------------------------------ bit accounting


@pytest.mark.parametrize(("text", "shape", "bits"), [
    # MX: 32 FP4 elements + one 8-bit E8M0 scale per block of 32 along each row
    ("mxfp4", (4, 64), 4 * 64 * 4 + 4 * 2 * 8),
    ("mxfp4", (3, 40), 3 * 40 * 4 + 3 * 2 * 8),  # 40 = 32 + a partial block of 8
    # NVFP4: 16 FP4 elements + one 8-bit E4M3 scale per 16, and one fp32 tensor scale
    ("nvfp4", (16, 64), 16 * 64 * 4 + 16 * 4 * 8 + 32),
    ("nvfp4", (1, 17), 17 * 4 + 2 * 8 + 32),
    # int4 groups of 128 (asymmetric by default): fp16 scale + 4-bit zero point per group
    ("int4:group128", (8, 256), 8 * 256 * 4 + 8 * 2 * (16 + 4)),
    ("int4:group128", (2, 200), 2 * 200 * 4 + 2 * 2 * (16 + 4)),
    ("e4m3fn:tensor", (10, 10), 800 + 32),
    ("bf16", (5, 7), 35 * 16),
])
def test_bits_by_hand(text: str, shape: tuple[int, ...], bits: int) -> None:
    r = parse_recipe(text)
    assert P.recipe_bits(r, shape) == bits
    n = math.prod(shape)
    assert round(r.bits_per_value(shape) * n) == bits
    if text == "mxfp4" and shape == (4, 64):
        assert bits / n == 4.25
    if text == "nvfp4" and shape == (16, 64):
        assert bits / n == 4.5 + 32 / n
    if text == "int4:group128" and shape == (8, 256):
        assert bits / n == 4 + 20 / 128


def test_q8_0_is_int8_group32_symmetric() -> None:
    r = parse_recipe("int8:group32", Defaults(scheme="symmetric"))
    assert P.recipe_bits(r, (4, 64)) == 4 * 64 * 8 + 4 * 2 * 16  # 8.5 bits, as block_q8_0
    assert P.ggml_type(r) == "q8_0"
    assert P.ggml_type(parse_recipe("int8:group32")) is None  # asymmetric: zero points
    assert P.ggml_type(parse_recipe("int8:group32:bf16", Defaults(scheme="symmetric"))) is None
    assert P.ggml_type(parse_recipe("mxfp4")) == "mxfp4"
    assert P.ggml_type(parse_recipe("mxfp4:rceil")) is None
    assert [P.ggml_type(parse_recipe(t)) for t in ("fp32", "fp16", "bf16")] == [
        "f32", "f16", "bf16"]
    for t in ("nvfp4", "e4m3fn:tensor", "int4:group32", "nf4", "e5m2"):
        assert P.ggml_type(parse_recipe(t)) is None
    with pytest.raises(UsageError, match="no FP8 type"):
        P.check_ggml([parse_recipe("e4m3fn:tensor")])


# ------------------------------------------------------------------ emitters

NASTY = ["model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", "w[0]", "a]b[c",
         "x: y", "#comment", "- dash", "yes", "NULL", "on", "~", "123", "1e3", "0x1F",
         "Caps.Weight", 'quo"te', "back\\slash", "tab\there", "sp ace", "uni·code",
         "{brace}", "a=b", "it's", "*star?", "&anchor", "!tag", "%pct", "@at", "`tick`",
         "trailing ", " leading", "", "é.weight"]


def fake_plan(names: list[str], recipes_: list[str]) -> P.Plan:
    items = []
    picks = []
    for i, n in enumerate(names):
        rec = recipes_[i % len(recipes_)]
        c = P.Choice(rec, 64 * 16, math.inf, 0.0, 0, 0)
        items.append(P.Item(n, "BF16", "bf16", (8, 32), 256, (c,)))
        picks.append(c)
    sol = P.Solution(picks, sum(c.bits for c in picks), Fraction(0), Fraction(0), True, 0, None)
    return P.Plan("m.safetensors", "safetensors", recipes_, P.Budget(bits=Fraction(16)), "error",
                  items, [], sol)


def test_yaml_round_trips_through_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    plan = fake_plan(NASTY, ["bf16", "e4m3fn:tensor", "int4:group128", "stored", "yes"])
    text = P.yaml_map(plan)
    back = yaml.safe_load(text)
    want = {}
    for it, c in zip(plan.items, plan.solution.picks, strict=True):
        want[it.name] = "bf16" if c.recipe == "stored" else c.recipe
    assert back == want
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in back.items())
    # names with dots stay plain, brackets and YAML words are quoted
    assert "\nmodel.layers.0.self_attn.q_proj.weight: bf16\n" in text
    assert '\n"w[0]": ' in text and '\n"yes": ' in text


def parse_llama_args(text: str) -> list[tuple[str, str]]:
    """What llama-quantize does with the arguments: after the shell, split each
    --tensor-type value at its first '=' and lowercase the pattern."""
    words = shlex.split(text)
    out = []
    for flag, value in zip(words[::2], words[1::2], strict=True):
        assert flag == "--tensor-type"
        pat, sep, typ = value.partition("=")
        assert sep and pat and typ
        out.append((pat.lower(), typ))
    return out


def test_llama_quantize_args_match_exactly_their_tensor() -> None:
    names = [n for n in NASTY if n] + ["blk.10.ffn_up.weight", "blk.1.ffn_up.weight",
                                       "blk.1.ffn_up.weightx", "BLK.1.FFN_UP.WEIGHT"]
    rs = recipes("bf16", "mxfp4", "int8:group32", "fp16", scheme="symmetric")
    plan = fake_plan(names, [r.text for r in rs])
    text, ragged = P.llama_quantize_args(plan, rs)
    pairs = parse_llama_args(text)
    assert len(pairs) == len(names)
    types = {"bf16": "bf16", "mxfp4": "mxfp4", "int8:group32": "q8_0", "fp16": "f16"}
    for (pat, typ), it, c in zip(pairs, plan.items, plan.solution.picks, strict=True):
        assert typ == types[c.recipe]
        hits = [n for n in names if re.search(pat, n)]
        assert hits == [it.name], (pat, hits)
        assert not re.search(r"\s|['\"*?\[]", pat)  # no quote, space or glob character
    assert ragged == []  # 32 columns: whole blocks


def test_llama_quantize_refuses_recipes_without_a_ggml_type() -> None:
    rs = recipes("nvfp4", "e4m3fn:tensor")
    plan = fake_plan(["w"], ["nvfp4"])
    with pytest.raises(P.PlanError, match="fp32 tensor scale"):
        P.llama_quantize_args(plan, rs)


# ------------------------------------------------------------------ end to end


def make_checkpoint(path: Path, dtype: Any = ml_dtypes.bfloat16) -> dict[str, np.ndarray]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(5)
    t: dict[str, np.ndarray] = {}
    for i in range(2):
        t[f"model.layers.{i}.attn.q.weight"] = (rng.standard_normal((64, 128)) * 0.02)
        t[f"model.layers.{i}.mlp.down.weight"] = rng.standard_t(3, (96, 64)) * 0.02
        t[f"model.layers.{i}.norm.weight"] = 1 + 0.1 * rng.standard_normal(64)
    t["lm_head.weight"] = rng.standard_normal((128, 64)) * 0.05
    t["pos_ids"] = np.arange(16, dtype=np.int64)
    out = {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in t.items()}
    save_file(out, str(path))
    return out


def test_cli_json_contract_and_brute_force_on_a_checkpoint(tmp_path: Path) -> None:
    ck = tmp_path / "m.safetensors"
    data = make_checkpoint(ck, np.float32)
    fmts = "bf16,e4m3fn:tensor,int8:channel,nvfp4"
    code, out, err_ = run("plan", str(ck), "-F", fmts, "--bits", "9", "-o", "json")
    assert code == 0, err_
    rec = json.loads(out)
    assert "pinned 2 tensor(s): 1-D" in err_ and "skipped 1 tensor(s)" in err_
    assert rec["skipped"] == [{"tensor": "pos_ids", "dtype": "I64",
                               "reason": rec["skipped"][0]["reason"]}]
    ts = rec["tensors"]
    assert [t["tensor"] for t in ts] == sorted(k for k in data if k != "pos_ids")
    for t in ts:
        assert set(t) >= {"tensor", "recipe", "params", "bits_per_value", "sqnr_db"}
        assert t["params"] == data[t["tensor"]].size
    tot = rec["total"]
    params = sum(t["params"] for t in ts)
    bits = sum(t["bits"] for t in ts)
    assert tot["params"] == params and tot["bits"] == bits
    assert tot["bytes"] == -(-bits // 8) and bits <= 9 * params
    assert tot["bits_per_value"] == bits / params
    assert tot["stored_bytes"] == 4 * params and tot["bf16_bytes"] == 2 * params
    assert tot["optimal"] is True
    # 1-D norms are pinned to their stored precision (fp32: "stored")
    for t in ts:
        if t["tensor"].endswith("norm.weight"):
            assert t["recipe"] == "stored" and t["pinned"] and t["sqnr_db"] == "inf"
    # one SQNR against ml_dtypes: a tensor planned to bf16 (or the bf16 option of any)
    q = data["lm_head.weight"]
    b = q.astype(ml_dtypes.bfloat16).astype(np.float64)
    want = 10 * math.log10(float(np.sum(q.astype(np.float64) ** 2))
                           / float(np.sum((q - b) ** 2)))
    code, out2, _ = run("plan", str(ck), "-F", "bf16", "--bits", "32", "--no-stored", "-o",
                        "json")
    lm = next(t for t in json.loads(out2)["tensors"] if t["tensor"] == "lm_head.weight")
    assert lm["recipe"] == "bf16" and lm["sqnr_db"] == pytest.approx(want, rel=1e-9)
    # optimality over the real statistics: brute force over every assignment
    code, out3, _ = run("compare", str(ck), "--small", "-F", fmts, "-o", "json")
    stats: dict[str, dict[str, tuple[int, float | None, int]]] = {}
    for r in json.loads(out3):
        if r["tensor"] is None or r["skip"] is not None:
            continue
        sq = r["sqnr_db"]
        sqf = math.inf if sq == "inf" else -math.inf if sq == "-inf" else sq
        nbits = round(r["bits_per_value"] * r["params"])
        stats.setdefault(r["tensor"], {})[r["format"]] = (nbits, sqf, r["lost"])
    names = [t["tensor"] for t in ts]
    opts = []
    for n in names:
        o = [(f, b_, s) for f, (b_, s, lost) in stats[n].items() if not lost]
        if data[n].ndim == 1:
            o = [("stored", data[n].size * 32, math.inf)]
        else:
            o.append(("stored", data[n].size * 32, math.inf))
        opts.append(o)
    best = min((sum((err(data[n].size, s) for n, (_f, _b, s) in zip(names, c, strict=True)),
                    Fraction(0)), sum(b_ for _f, b_, _s in c))
               for c in itertools.product(*opts) if sum(b_ for _f, b_, _s in c) <= 9 * params)
    got = sum((err(t["params"], math.inf if t["sqnr_db"] == "inf" else t["sqnr_db"])
               for t in ts), Fraction(0))
    assert (got, bits) == best
    assert tot["objective"] == float(best[0])
    # the sweep re-solves nearby budgets; the given one matches the plan
    given = [s for s in rec["sweep"] if s["given"]]
    assert len(given) == 1 and given[0]["bits"] == bits
    objs = [s["objective"] for s in rec["sweep"] if s["met"]]
    assert objs == sorted(objs, reverse=True)  # more bits never cost error


def test_cli_jobs_and_outputs(tmp_path: Path) -> None:
    ck = tmp_path / "m.safetensors"
    make_checkpoint(ck)
    base = ["plan", str(ck), "-F", "e4m3fn:tensor,nvfp4,mxfp4", "--bits", "6"]
    c1, o1, _ = run(*base, "-o", "json")
    c2, o2, _ = run(*base, "-o", "json", "--jobs", "2")
    assert c1 == c2 == 0 and o1 == o2
    code, out, _ = run(*base, "-o", "plain")
    pairs = dict(line.split("\t") for line in out.splitlines())
    assert pairs == {t["tensor"]: t["recipe"] for t in json.loads(o1)["tensors"]}
    code, out, _ = run(*base, "--emit", "yaml")
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(out) == {k: ("bf16" if v == "stored" else v) for k, v in pairs.items()}
    code, out, _ = run(*base, "-o", "table")
    assert code == 0 and "weight-error proxy" in out and "nearby budgets" in out
    assert "▸ --bits 6" in out and "pinned" in out
    code, out, err_ = run("plan", str(ck), "-F", "bf16,mxfp4", "--bits", "6", "--emit",
                          "llama-quantize")
    assert code == 0
    pairs2 = parse_llama_args(out)
    assert {t for _p, t in pairs2} <= {"bf16", "mxfp4"}
    assert "convert_hf_to_gguf" in err_


def test_cli_errors(tmp_path: Path) -> None:
    ck = tmp_path / "m.safetensors"
    make_checkpoint(ck)
    code, out, err_ = run("plan", str(ck), "-F", "nvfp4", "--bits", "3")
    assert code == 1 and out == ""
    assert err_.startswith("precli: error: the budget (--bits 3) cannot be met: even the "
                           "cheapest allowed recipes need") and err_.count("\n") == 1
    code, _, err_ = run("plan", str(ck), "-F", "nvfp4", "--min-sqnr", "60", "--no-stored")
    assert code == 1 and "no recipe reaches --min-sqnr 60 dB without loss in tensor" in err_
    code, out, _ = run("plan", str(ck), "-F", "nvfp4", "--min-sqnr", "60", "-o", "plain")
    assert code == 0 and set(out.split()[1::2]) == {"stored"}  # keeping them all meets it
    for args, msg in (
        (["--bits", "4", "--size", "1GB"], "not both"),
        (["--size", "4G"], "cannot read size"),
        ([], "give a budget"),
        (["--bits", "4", "--objective", "best"], "invalid --objective"),
        (["--min-sqnr", "20", "--objective", "worst"], "needs a size budget"),
        (["--bits", "4", "--emit", "json"], "invalid --emit"),
        (["--bits", "4", "--emit", "yaml", "-o", "json"], "leave out --output"),
        (["--bits", "6", "--emit", "llama-quantize"], "needs recipes with a ggml type"),
        (["--bits", "6", "--keep", "lm_head=bf16"], "bf16 is not in --formats"),
    ):
        code, _, err_ = run("plan", str(ck), "-F", "nvfp4,e4m3fn:tensor", *args)
        assert code == 2 and msg in err_ and err_.startswith("precli: error: "), (args, err_)
    # no --formats: the deployment recipes, spelled as the recipes module lists them
    code, out, err_ = run("plan", str(ck), "--bits", "6", "-o", "json")
    assert code == 0, err_
    assert json.loads(out)["recipes"] == [
        "bf16", "fp16", "e4m3fn:channel", "e4m3fn:block128x128", "mxfp8_e4m3", "mxfp4",
        "nvfp4", "int8:channel", "int4:group128", "nf4"]  # fmt: skip
    code, _, err_ = run("plan", str(tmp_path / "nope.safetensors"), "-F", "nvfp4", "--bits", "5")
    assert code in (1, 2) and err_.startswith("precli: error: ") and "Traceback" not in err_


def test_near_ties_of_one_shape_against_brute_force() -> None:
    """Tensors of one shape with nearly equal statistics under close recipes (the case
    where partial plans of equal bits must merge): still the brute-force optimum."""
    rng = random.Random(99)
    base = [(16, math.inf), (8, 31.5), (8.0625, 31.6), (4.5, 20.5), (4.25, 18.6)]
    for _ in range(6):
        items = []
        for i in range(7):
            params = rng.choice([256, 256, 512])
            ch = []
            for j, (b, sq) in enumerate(base):
                v = sq if sq == math.inf else sq + rng.gauss(0, 0.05)
                ch.append(P.Choice(f"r{j}", round(b * params), v, P.tensor_error(params, v),
                                   0, j))
            items.append(P.Item(f"t{i}", "BF16", "bf16", (params,), params, tuple(ch)))
        for b in (4.3, 4.6, 5.5, 6.1, 8.03, 9, 12, 15.9):
            check_against_brute(items, P.Budget(bits=Fraction(b).limit_denominator(1000)),
                                "error")


def test_budgets_past_any_model_are_usage_errors_not_internal_ones() -> None:
    """`--bits 1e400` was an internal OverflowError; `--size` of 5,000 digits an internal
    ValueError (Python's int-string limit)."""
    assert P.parse_bits("1024") == 1024
    with pytest.raises(UsageError, match=r"is more than any recipe stores \(at most 1024 "):
        P.parse_bits("1e400")
    assert P.parse_size("9" * 40) == int("9" * 40)
    with pytest.raises(UsageError, match="larger than any checkpoint"):
        P.parse_size("9" * 5000)


# ------------------------------------------------------------------ the table at 60/80/120

HF_PROJ = (("self_attn.q_proj", (256, 1024)), ("self_attn.k_proj", (64, 1024)),
           ("self_attn.v_proj", (64, 1024)), ("self_attn.o_proj", (1024, 256)),
           ("mlp.gate_proj", (512, 256)), ("mlp.up_proj", (512, 256)))


def hf_model(path: Path) -> list[str]:
    """20 tensors with Hugging Face names (one 1,048,576-value embedding, one 1-D norm that
    keeps its precision), float32: the names of the table, in file order."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(18)
    t = {f"model.layers.{layer}.{p}.weight": rng.standard_normal(s).astype(np.float32) * 0.02
         for layer in (9, 10, 11) for p, s in HF_PROJ}
    t["model.layers.11.input_layernorm.weight"] = np.ones(1024, np.float32)
    t["model.embed_tokens.weight"] = rng.standard_normal((1024, 1024)).astype(np.float32)
    save_file(t, str(path))
    return sorted(t)


@pytest.fixture(scope="module")
def hf_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    p = tmp_path_factory.mktemp("hf") / "hf-model.safetensors"
    hf_model(p)
    code, out, _err = run("plan", str(p), *HF_PLAN_ARGS, "-o", "json")
    assert code == 0
    return p, json.loads(out)


HF_PLAN_ARGS = ("-F", "nvfp4,e4m3fn:channel,int8:channel", "--bits", "6")
#: every column of the plan table and how the table writes its record's value
PLAN_CELLS: dict[str, Any] = {
    "tensor": lambda r: r["tensor"],
    "dtype": lambda r: r["dtype"],
    "shape": lambda r: "×".join(map(str, r["shape"])),
    "params": lambda r: f"{r['params']:,}",
    "recipe": lambda r: r["recipe"],
    "SQNR dB": lambda r: "exact" if r["sqnr_db"] == "inf" else f"{r['sqnr_db']:.2f}",
    "bits/value": lambda r: f"{r['bits_per_value']:.4g}",
    "error": lambda r: "0" if r["error"] == 0 else f"{r['error']:.4g}",
    "": lambda r: "pinned" if r["pinned"] else None,
}
PLAN_NUMBERS = {"params": "params", "SQNR dB": "sqnr_db", "bits/value": "bits_per_value",
                "error": "error"}


def plan_table_output(path: Path, width: int, how: str) -> str:
    if how.startswith("tty"):
        from table_text import run_on_tty

        out, code = run_on_tty(["plan", str(path), *HF_PLAN_ARGS], path.parent, width,
                               {"NO_COLOR": "1"} if how == "tty-nocolor" else None)
    else:
        env = {"COLUMNS": str(width), **({"FORCE_COLOR": "1"} if how == "pipe-color" else
                                         {"NO_COLOR": "1"})}
        r = runner.invoke(app, ["plan", str(path), *HF_PLAN_ARGS, "-o", "table"], env=env)
        out, code = r.stdout, r.exit_code
    assert code == 0
    if how in ("pipe-color", "tty"):
        assert "\x1b[" in out
    else:
        assert "\x1b[" not in out
    return out


@pytest.mark.parametrize("how", ["pipe", "pipe-color", "tty", "tty-nocolor"])
@pytest.mark.parametrize("width", [60, 80, 120])
def test_plan_table_fits_the_width_and_shows_what_json_says(
        hf_plan: tuple[Path, dict[str, Any]], width: int, how: str) -> None:
    """Issue 18: at 80 columns the title was cut ('plan for -'), bits/value read '4.' for
    4.5 and '8.12' for 8.125, params '131,0…'; at 60 the tensor column was gone. Now: no
    line is wider than the terminal, every name is there in full (folded), every cell is
    the JSON's value as the table writes it, and the footnote names each dropped column."""
    from table_text import number, parse_table, plain, too_wide

    path, rec = hf_plan
    out = plan_table_output(path, width, how)
    assert too_wide(out, width) == []
    assert "…" not in out
    t = parse_table(out, list(PLAN_CELLS))
    assert [r["tensor"] for r in t.rows] == [r["tensor"] for r in rec["tensors"]]
    assert {"tensor", "recipe", "SQNR dB"} <= set(t.headers)
    shown = {h or "pinned" for h in t.headers}
    assert shown.isdisjoint(t.dropped)
    assert shown | set(t.dropped) == {h or "pinned" for h in PLAN_CELLS}
    assert (t.dropped == []) == (width == 120)
    for row, r in zip(t.rows, rec["tensors"], strict=True):
        for h in t.headers:
            want = PLAN_CELLS[h](r)
            if h == "recipe" and r["recipe"] == "stored":
                assert row[h].startswith("stored ")  # the stored format: "stored fp32"
                continue
            assert row.get(h) == want, (h, row, r)
            if h in PLAN_NUMBERS and want != "exact":
                v = float(r[PLAN_NUMBERS[h]])
                assert abs(number(row[h]) - v) <= 5e-3 * abs(v) + 5e-3
    lines = plain(out).splitlines()
    title = " ".join(x.strip() for x in lines[:lines.index(next(
        x for x in lines if not x.strip()))])
    name = str(path) if len(str(path)) <= width else path.name
    assert title == (f"{name} (safetensors): plan for --bits 6, least total error "
                     "Σ params·10^(−SQNR/10), no lost values")
