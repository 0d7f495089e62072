"""``precli plan``: one recipe per tensor under a budget, as an exact multiple-choice knapsack.

Pure Python, never prints, imports no numpy: it works on the per-tensor statistics of one
:func:`precli.model.analyze.analyze` pass and never reads the checkpoint again (the budget sweep
re-solves the same statistics).

**Choices.** Every tensor may take any recipe of ``--formats`` that loses no value (a lost
value makes the error infinite: such a recipe is never chosen), or stay as it is stored
("stored": the stored dtype's bits and no error) when its stored format is not already one
of the recipes. Pins fix a tensor's choice: ``--keep REGEX=RECIPE`` (the first matching pin
wins; RECIPE is a ``--formats`` entry or ``stored``), and by default every 1-D tensor
(norms, biases) keeps its stored precision.

**Costs** are exact integers: ``params * element_bits + scales * scale_bits +
tensor_bits`` (:meth:`precli.array.recipes.Recipe.bits_per_value` times the parameter count).

**Objective.** The error of a tensor under a recipe is ``params * 10**(-SQNR/10)``, that
is ``params * sum (x - q)**2 / sum x**2``: its relative error energy weighted by its size
(0 when it is stored exactly). The plan minimizes the sum over tensors within the budget,
then (among plans of equal error) the total bits. The alternative objective ``worst``
maximizes the lowest SQNR of any tensor the plan chooses for, then minimizes the error
among the plans that reach it. Both are weight-error proxies, not accuracy guarantees.

**Budgets.** ``--bits B``: at most B bits per parameter on average, scales included, over
the planned tensors; ``--size SIZE``: at most SIZE bytes for them (``4GB`` = 4 * 10**9,
``4GiB`` = 4 * 2**30); ``--min-sqnr DB``: every tensor at least DB dB. With ``--min-sqnr``
alone the plan is the smallest one that meets it; with a size budget too, it is a floor.

**Exactness.** Errors are float64 numbers; the solver adds them as exact integers (every
float64 is an integer times a power of two), so every comparison is exact. The knapsack is
solved by removing dominated choices, a linear-programming bound from each tensor's convex
hull (Sinha and Zoltners) whose greedy rounding is the first plan, reduced-cost fixing at
the root, then a dynamic program over the tensors still open that keeps only the
Pareto-optimal partial plans the Lagrangian bound cannot rule out, aimed at targets that
rise from the LP bound (each failed target is a proven lower bound); branch and bound takes
over if the program outgrows its limit. If the search limit is ever reached, the best plan
found is reported with the proven lower bound on the optimum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from precli.core.exact import escape_controls, shown_text
from precli.errors import PrecliError, UsageError, arg
from precli.model.pool import name_pattern

if TYPE_CHECKING:
    from precli.array.recipes import Recipe
    from precli.array.views import View
    from precli.model.stats import CompareStats

__all__ = [
    "NODE_LIMIT",
    "Budget",
    "Choice",
    "Item",
    "Keep",
    "Plan",
    "PlanError",
    "Solution",
    "SweepRow",
    "build_items",
    "ggml_type",
    "llama_quantize_args",
    "make_plan",
    "parse_bits",
    "parse_keep",
    "parse_size",
    "plan_record",
    "solve",
    "solve_mckp",
    "sweep",
    "tensor_regex",
    "yaml_map",
]

#: Search effort before the solver stops and reports its proven bound: branch-and-bound
#: nodes, and ten times as many dynamic-programming states.
NODE_LIMIT = 100_000

STORED = "stored"


class PlanError(PrecliError):
    """A budget that cannot be met, or a pin that cannot be honoured (exit 1)."""


# ------------------------------------------------------------------ budgets


_SIZE_UNITS: dict[str, int] = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}  # fmt: skip
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size: a number and an optional unit, decimal (kB, MB, GB, TB, PB: powers
    of 1000) or binary (KiB, MiB, GiB, TiB, PiB: powers of 1024), any case; fractions of
    a byte are dropped (a budget is an upper bound)."""
    m = _SIZE_RE.match(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _SIZE_UNITS:
        raise UsageError(f"cannot read size {text!r}: give bytes with an optional unit, "
                         "decimal (kB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB), e.g. 4GB")
    if len(m.group(1)) > MAX_SIZE_DIGITS:
        raise UsageError(f"size {shown_text(text)} is larger than any checkpoint (a size has "
                         f"at most {MAX_SIZE_DIGITS} digits)")
    n = math.floor(Fraction(m.group(1)) * _SIZE_UNITS[unit])
    if n <= 0:
        raise UsageError(f"size {text!r} must be positive")
    return n


#: Budgets past these say nothing a smaller one does not: no recipe stores more than 64
#: bits of element plus its scales, and no checkpoint holds 10**40 bytes.
MAX_BITS = 1024
MAX_SIZE_DIGITS = 40


def parse_bits(text: str) -> Fraction:
    """Average bits per parameter, exactly as written (``5.5`` is 11/2)."""
    try:
        b = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"cannot read {arg('bits')} {text!r}: give bits per parameter, e.g. 5.5"
                         ) from None
    if b <= 0:
        raise UsageError(f"{arg('bits')} {text} must be positive")
    if b > MAX_BITS:
        raise UsageError(f"{arg('bits')} {shown_text(text)} is more than any recipe stores "
                         f"(at most {MAX_BITS} bits per parameter)")
    return b


@dataclass(frozen=True)
class Budget:
    """``bits``: average bits per parameter (exact); ``size``: bytes; ``min_sqnr``: dB.
    At most one of bits / size."""

    bits: Fraction | None = None
    size: int | None = None
    min_sqnr: float | None = None

    def __post_init__(self) -> None:
        if self.bits is not None and self.size is not None:
            raise UsageError(f"give one of {arg('bits')} and {arg('size')}, not both")
        if self.bits is None and self.size is None and self.min_sqnr is None:
            raise UsageError(f"give a budget: {arg('bits')} B, {arg('size')} SIZE or "
                             f"{arg('min_sqnr')} DB")
        if self.min_sqnr is not None and math.isnan(self.min_sqnr):
            raise UsageError(f"{arg('min_sqnr')} must be a number")

    def cap(self, params: int) -> int | None:
        """The most bits the planned tensors may take (None: no size budget)."""
        if self.bits is not None:
            return math.floor(self.bits * params)
        if self.size is not None:
            return 8 * self.size
        return None

    def text(self) -> str:
        parts = []
        if self.bits is not None:
            parts.append(f"--bits {_frac_text(self.bits)}")
        if self.size is not None:
            parts.append(f"--size {self.size:,} bytes")
        if self.min_sqnr is not None:
            parts.append(f"--min-sqnr {self.min_sqnr:g}")
        return ", ".join(parts)


def _frac_text(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{float(f):g}"


# ------------------------------------------------------------------ pins


@dataclass(frozen=True)
class Keep:
    """``--keep REGEX=RECIPE``: tensors whose name the regex finds (re.search) take the
    recipe (canonical text) or ``stored``."""

    text: str
    pattern: re.Pattern[str]
    recipe: str


def parse_keep(text: str, canon: Callable[[str], str]) -> Keep:
    """Parse ``REGEX=RECIPE`` (split at the last ``=``: recipes hold none). ``canon`` maps
    a recipe text to its canonical spelling (raising UsageError for a bad one)."""
    rx, sep, rec = text.rpartition("=")
    if not sep or not rx or not rec.strip():
        raise UsageError(f"cannot read {arg('keep')} {text!r}: the form is REGEX=RECIPE "
                         f"(e.g. {arg('keep')} 'lm_head|embed=bf16', {arg('keep')} "
                         "'norm=stored')")
    try:
        re.compile(rx)
    except re.error as e:
        raise UsageError(f"{arg('keep')} {text!r}: bad regular expression: {e}") from None
    pat = name_pattern(rx, "keep")  # refuses nested repeats (exponential time)
    rec = rec.strip()
    return Keep(text, pat, STORED if rec.lower() == STORED else canon(rec))


# ------------------------------------------------------------------ the instance


@dataclass(frozen=True)
class Choice:
    """One way to store one tensor."""

    recipe: str  # canonical recipe text, or "stored"
    bits: int  # total storage bits of the tensor, scales included
    sqnr_db: float | None  # inf when exact; None when there was no finite value
    error: float  # params * 10**(-SQNR/10); inf when values are lost
    lost: int = 0
    index: int | None = None  # position in --formats (None for stored)

    @property
    def allowed(self) -> bool:
        return self.lost == 0 and math.isfinite(self.error)


@dataclass(frozen=True)
class Item:
    """One tensor to plan: its choices (allowed or not), and its pin if it has one."""

    name: str
    dtype: str
    format: str | None
    shape: tuple[int, ...]
    params: int
    choices: tuple[Choice, ...]
    pin: str | None = None  # the pinned recipe text, or None
    pin_reason: str | None = None
    nbytes: int | None = None  # bytes as stored in the checkpoint

    @property
    def stored_bits(self) -> int:
        s = next((c for c in self.choices if c.recipe == STORED), None)
        if s is not None:
            return s.bits
        return self.params * _format_bits(self.format)


def _format_bits(name: str | None) -> int:
    from precli.core.formats import get_format

    if name is None:
        return 0
    return get_format(name).bits


def tensor_error(params: int, sqnr_db: float | None) -> float:
    """params * 10**(-SQNR/10): 0 for an exact tensor (or one with no finite value),
    inf when values are lost."""
    if sqnr_db is None or sqnr_db == math.inf:
        return 0.0
    if sqnr_db == -math.inf or math.isnan(sqnr_db):
        return math.inf
    try:
        return float(params * 10.0 ** (-sqnr_db / 10.0))
    except OverflowError:
        return math.inf


def recipe_bits(r: Recipe, shape: tuple[int, ...], view: View | None = None) -> int:
    """Exact storage bits of a tensor under a recipe, seen through ``view`` (default: scales
    along the last axis)."""
    return r.storage_bits(shape, view)


def _stored_recipe(recipes: Sequence[Recipe], fmt: str | None) -> int | None:
    """Index of the plain cast recipe to the stored format, if --formats has one."""
    for i, r in enumerate(recipes):
        if r.kind == "cast" and r.element.name == fmt:
            return i
    return None


def build_items(tensors: Sequence[Any], recipes: Sequence[Recipe], keeps: Sequence[Keep] = (),
                default_pins: bool = True, offer_stored: bool = True
                ) -> tuple[list[Item], list[tuple[str, str, str]]]:
    """Items to plan from the report's tensors, and the skipped ones as (name, dtype,
    reason). A tensor takes the recipes of --formats, plus "stored" when its stored format
    is not among them (with ``offer_stored``: otherwise only pins keep a tensor stored);
    a pin fixes its choice."""
    texts = [r.text for r in recipes]
    for k in keeps:
        if k.recipe != STORED and k.recipe not in texts:
            raise UsageError(f"{arg('keep')} {k.text!r}: {k.recipe} is not in "
                             f"{arg('formats')} ({', '.join(texts)}); add it there, or keep "
                             "the tensors 'stored'")
    items: list[Item] = []
    skipped: list[tuple[str, str, str]] = []
    for t in tensors:
        if t.skip is not None:
            skipped.append((t.name, t.dtype, t.skip))
            continue
        if t.params == 0:
            skipped.append((t.name, t.dtype, "empty tensor"))
            continue
        shape = tuple(t.shape)
        stats: Sequence[CompareStats] = t.stats
        choices = []
        for i, (r, s) in enumerate(zip(recipes, stats, strict=True)):
            choices.append(Choice(r.text, recipe_bits(r, shape, getattr(t, "view", None)),
                                  s.sqnr_db,
                                  math.inf if s.lost else tensor_error(t.params, s.sqnr_db),
                                  s.lost, i))
        same = _stored_recipe(recipes, t.format)
        pin = reason = None
        for k in keeps:
            if k.pattern.search(t.name):
                pin, reason = k.recipe, f"--keep {k.text}"
                break
        if pin is None and default_pins and len(shape) <= 1:
            pin = STORED if same is None else recipes[same].text
            reason = "1-D tensors keep their stored precision"
        if pin == STORED and same is not None:
            pin = recipes[same].text
        if same is None and (offer_stored or pin == STORED):
            # quantized layouts (logical tensors, GGUF blocks) have no element format:
            # their stored cost is their bytes, scales included
            nb = getattr(t, "nbytes", None)
            bits = t.params * _format_bits(t.format) if t.format is not None or nb is None \
                else 8 * nb
            choices.append(Choice(STORED, bits, math.inf, 0.0))
        item = Item(t.name, t.dtype, t.format, shape, t.params, tuple(choices), pin, reason,
                    getattr(t, "nbytes", None))
        if pin is not None:
            c = next(c for c in choices if c.recipe == pin)
            if not c.allowed:
                raise PlanError(f"tensor {t.name!r} is pinned to {pin} ({reason}), which "
                                f"loses {c.lost:,} of its values")
        items.append(item)
    if not items:
        raise PlanError("no tensor to plan (all were skipped or excluded)")
    return items, skipped


# ------------------------------------------------------------------ exact objective


class _Scale:
    """Exact integer errors: every float64 error is m * 2**e; they share 2**base."""

    def __init__(self, errors: Sequence[float], max_bits: int) -> None:
        finite = [e for e in errors if 0 < e < math.inf]
        self.base = min((math.frexp(e)[1] - 53 for e in finite), default=0)
        self.k = max_bits + 1  # key = error * k + bits: bits never reach the error part

    def int_error(self, e: float) -> int:
        if e == 0:
            return 0
        m, ex = math.frexp(e)
        return int(m * (1 << 53)) << (ex - 53 - self.base)

    def key(self, c: Choice) -> int:
        return self.int_error(c.error) * self.k + c.bits

    def error_of(self, key: int) -> Fraction:
        return Fraction(key // self.k) * Fraction(2) ** self.base


# ------------------------------------------------------------------ the knapsack


@dataclass
class MckpResult:
    choice: list[int]  # index into each group's option list
    key: int
    bound: int  # proven lower bound on the optimal key (== key when optimal)
    optimal: bool
    nodes: int


def _frontier(opts: Sequence[tuple[int, int]], idx: Sequence[int]) -> list[int]:
    """Undominated options (bits ascending, key strictly descending); of equal options the
    first listed wins."""
    order = sorted(idx, key=lambda j: (opts[j][0], opts[j][1], j))
    out: list[int] = []
    for j in order:
        if not out or opts[j][1] < opts[out[-1]][1]:
            if out and opts[j][0] == opts[out[-1]][0]:
                continue
            out.append(j)
    return out


def _hull(opts: Sequence[tuple[int, int]], front: Sequence[int]) -> list[int]:
    """The lower convex hull of a frontier in the (bits, key) plane."""
    h: list[int] = []
    for j in front:
        while len(h) >= 2:
            (b1, k1), (b2, k2), (b3, k3) = opts[h[-2]], opts[h[-1]], opts[j]
            # drop the middle point when it is on or above the segment from 1 to 3
            if (k2 - k1) * (b3 - b1) >= (k3 - k1) * (b2 - b1):
                h.pop()
            else:
                break
        h.append(j)
    return h


class _Core:
    """A reduced knapsack instance for branch and bound: groups in branching order, each
    with its frontier, and every hull increment sorted by gain per bit."""

    def __init__(self, groups: list[list[tuple[int, int]]], fronts: list[list[int]]) -> None:
        self.groups = groups
        self.fronts = fronts
        n = len(groups)
        self.min_bits = [groups[g][fronts[g][0]][0] for g in range(n)]
        self.min_key = [groups[g][fronts[g][0]][1] for g in range(n)]
        self.suf_bits = [0] * (n + 1)
        self.suf_key = [0] * (n + 1)
        for g in range(n - 1, -1, -1):
            self.suf_bits[g] = self.suf_bits[g + 1] + self.min_bits[g]
            self.suf_key[g] = self.suf_key[g + 1] + self.min_key[g]
        incs: list[tuple[int, int, int, int]] = []  # (gain, bits, group, hull step)
        for g in range(n):
            h = _hull(groups[g], fronts[g])
            for s in range(1, len(h)):
                (b0, k0), (b1, k1) = groups[g][h[s - 1]], groups[g][h[s]]
                incs.append((k0 - k1, b1 - b0, g, s))
        # gain per bit, descending; each group's steps stay in hull order (slopes decrease)
        incs.sort(key=lambda t: (-Fraction(t[0], t[1]), t[2], t[3]))
        self.incs = incs

    def bound(self, t: int, room: int) -> int | None:
        """Lower bound on the key of groups t.. with `room` bits (None: infeasible)."""
        free = room - self.suf_bits[t]
        if free < 0:
            return None
        key = self.suf_key[t]
        for gain, bits, g, _s in self.incs:
            if g < t:
                continue
            if bits <= free:
                free -= bits
                key -= gain
            else:
                return key - (gain * free) // bits
        return key


def solve_mckp(groups: list[list[tuple[int, int]]], cap: int,
               node_limit: int = NODE_LIMIT) -> MckpResult | None:
    """Minimize the sum of keys, one option per group, total bits <= cap.

    ``groups[i]`` lists (bits, key) options; every key and bit count is an integer, so the
    result is exact. None when even the cheapest options exceed the cap."""
    n = len(groups)
    fronts = [_frontier(g, range(len(g))) for g in groups]
    if any(not f for f in fronts):
        return None
    if sum(groups[g][fronts[g][0]][0] for g in range(n)) > cap:
        return None
    best_choice = [f[-1] for f in fronts]  # the least key of every group
    if sum(groups[g][j][0] for g, j in enumerate(best_choice)) <= cap:
        key = sum(groups[g][j][1] for g, j in enumerate(best_choice))
        return MckpResult(best_choice, key, key, True, 0)
    # root: the LP relaxation, its greedy integer rounding, and the critical slope
    core = _Core(groups, fronts)
    hulls = [_hull(groups[g], fronts[g]) for g in range(n)]
    step = [0] * n
    free = cap - core.suf_bits[0]
    lam: tuple[int, int] | None = None  # critical gain / bits
    lp = core.suf_key[0]
    for gain, bits, g, s in core.incs:
        if step[g] != s - 1:
            continue  # an earlier step of this group did not fit
        if bits <= free:
            free -= bits
            lp -= gain
            step[g] = s
        else:
            if lam is None:
                lam = (gain, bits)
                lp_bound = lp - (gain * free) // bits
    assert lam is not None  # else everything fit, handled above
    inc_choice = [hulls[g][step[g]] for g in range(n)]
    best = sum(groups[g][j][1] for g, j in enumerate(inc_choice))
    if best == lp_bound:
        return MckpResult(inc_choice, best, best, True, 0)
    # reduced-cost fixing: with lambda = gain / bits, any plan that puts group g on option j
    # costs at least L(lambda) + rc(g, j); drop options that cannot beat the incumbent
    gd, bd = lam
    weighted = [[bd * k + gd * b for b, k in g] for g in groups]
    mins = [min(w[j] for j in fronts[g]) for g, w in enumerate(weighted)]
    ld = sum(mins) - gd * cap  # bd * L(lambda)
    keep: list[list[int]] = []
    for g in range(n):
        keep.append([j for j in fronts[g]
                     if ld + weighted[g][j] - mins[g] <= bd * (best - 1)])
    if any(not k for k in keep):
        return MckpResult(inc_choice, best, lp_bound, True, 0)
    # branch and bound over the groups that still have a choice to make
    fixed_key = fixed_bits = 0
    open_groups = []
    for g in range(n):
        if len(keep[g]) == 1:
            b, k = groups[g][keep[g][0]]
            fixed_bits += b
            fixed_key += k
        else:
            open_groups.append(g)
    if fixed_bits > cap:
        return MckpResult(inc_choice, best, lp_bound, True, 0)
    if not open_groups:  # every group has one option left, and together they fit
        choice = [keep[g][0] for g in range(n)]
        if fixed_key < best:
            return MckpResult(choice, fixed_key, fixed_key, True, 0)
        return MckpResult(inc_choice, best, best, True, 0)
    # first a dynamic program over the open groups, keeping only Pareto-optimal partial
    # plans (bits, key) that the Lagrangian bound cannot rule out: partial plans of equal
    # bits merge, which branch and bound cannot do (many tensors of one shape); then, if
    # it outgrows its state limit, branch and bound with its node limit
    open_groups.sort(key=lambda g: (tuple(groups[g][j][0] for j in keep[g]), g))
    sub = [[groups[g][j] for j in keep[g]] for g in open_groups]
    sub_fronts = [_frontier(x, range(len(x))) for x in sub]
    target = best - fixed_key
    room = cap - fixed_bits
    # the target rises from the LP bound toward the incumbent: a search for key < T either
    # finds the optimum (nothing better can exist) or proves the optimum is at least T,
    # and a target near the optimum prunes hardest
    lo, delta, nodes = lp_bound, max(1, (best - lp_bound) // 256), 0
    done = True
    path: list[int] | None = None
    sub_key = best
    while True:
        t = min(best, lo + delta)
        dp = _pareto_dp(sub, sub_fronts, room, t - fixed_key, lam, node_limit * 10 - nodes)
        nodes += dp[2]
        if not dp[3]:
            done = False
            break
        if dp[0] is not None:
            path, sub_key = dp[0], dp[1]
            break
        lo = t  # no plan has a key below t
        if t == best:
            break
        delta *= 4
    if done:
        sub_bound, optimal = sub_key, True
    else:
        open_groups_bb = sorted(range(len(sub)), key=lambda i: -(
            sub[i][sub_fronts[i][0]][1] - sub[i][sub_fronts[i][-1]][1]))
        sub2 = [sub[i] for i in open_groups_bb]
        fr2 = [sub_fronts[i] for i in open_groups_bb]
        res = _branch_and_bound(_Core(sub2, fr2), room, target, node_limit)
        if res is None:  # nothing strictly better than the incumbent
            return MckpResult(inc_choice, best, best, True, nodes)
        path2, sub_key, sub_bound, optimal, n2 = res
        sub_bound = max(sub_bound, lo - fixed_key)
        nodes += n2
        if path2 is not None:
            path = [0] * len(sub)
            for pos, i in enumerate(open_groups_bb):
                path[i] = path2[pos]
    if path is None:
        bound = best if optimal else max(lp_bound, fixed_key + sub_bound)
        return MckpResult(inc_choice, best, bound, optimal, nodes)
    choice = list(inc_choice)
    for g in range(n):
        if len(keep[g]) == 1:
            choice[g] = keep[g][0]
    for pos, g in enumerate(open_groups):
        choice[g] = keep[g][path[pos]]
    key = fixed_key + sub_key
    return MckpResult(choice, key, key if optimal else max(lp_bound, fixed_key + sub_bound),
                      optimal, nodes)


def _pareto_dp(groups: list[list[tuple[int, int]]], fronts: list[list[int]], cap: int,
               best: int, lam: tuple[int, int], state_limit: int
               ) -> tuple[list[int] | None, int, int, bool]:
    """Exact search for a choice with key < best by dynamic programming over the groups.

    States after each group are the Pareto-optimal (bits, key) partial plans (bits
    ascending, key strictly descending; of equal states the first made wins). A state is
    dropped when the remaining groups' cheapest options no longer fit, or when the
    Lagrangian bound at lambda = gain / bits (any lambda >= 0 gives a valid bound)
    shows it cannot reach a key below `best`. Returns (path or None, key, states, done);
    done is False when more than `state_limit` states were made."""
    gd, bd = lam
    n = len(groups)
    mins = [min(bd * groups[g][j][1] + gd * groups[g][j][0] for j in fronts[g])
            for g in range(n)]
    suf_m = [0] * (n + 1)
    suf_b = [0] * (n + 1)
    for g in range(n - 1, -1, -1):
        suf_m[g] = suf_m[g + 1] + mins[g]
        suf_b[g] = suf_b[g + 1] + min(groups[g][j][0] for j in fronts[g])
    limit = bd * (best - 1)
    states: list[tuple[int, int]] = [(0, 0)]
    back: list[tuple[list[int], list[int]]] = []  # per group: parent state, option
    made = 0
    for g in range(n):
        rest_b = suf_b[g + 1]
        rest_m = suf_m[g + 1] - gd * cap
        cand: list[tuple[int, int, int, int]] = []
        for si, (sb, sk) in enumerate(states):
            for j in fronts[g]:
                b, k = groups[g][j]
                nb, nk = sb + b, sk + k
                if nb + rest_b > cap or bd * nk + gd * nb + rest_m > limit:
                    continue
                cand.append((nb, nk, si, j))
        made += len(cand)
        if made > state_limit:
            return None, best, made, False
        if not cand:
            return None, best, made, True
        cand.sort()
        keep_s: list[tuple[int, int]] = []
        par: list[int] = []
        opt: list[int] = []
        for nb, nk, si, j in cand:
            if keep_s and nk >= keep_s[-1][1]:
                continue  # dominated (equal bits sort by key, so one per bit count)
            keep_s.append((nb, nk))
            par.append(si)
            opt.append(j)
        states = keep_s
        back.append((par, opt))
    # the last states all fit; the least key among them (states are key-descending)
    si = len(states) - 1
    key = states[si][1]
    if key >= best:
        return None, best, made, True
    path = [0] * n
    for g in range(n - 1, -1, -1):
        par, opt = back[g]
        path[g] = opt[si]
        si = par[si]
    return path, key, made, True


def _branch_and_bound(core: _Core, cap: int, best: int, node_limit: int
                      ) -> tuple[list[int] | None, int, int, bool, int] | None:
    """Depth-first search for a plan with key < best. Returns (path or None, key, proven
    bound, finished, nodes); None when the root cannot beat `best`."""
    n = len(core.groups)
    groups, fronts = core.groups, core.fronts
    root = core.bound(0, cap)
    if root is None or root >= best:
        return None
    path = [0] * n
    best_path: list[int] | None = None
    nodes = 1
    # a frame: [depth, room, key, options to try, next position, node bound]
    frames: list[list[Any]] = [[0, cap, 0, _order(groups[0], fronts[0], cap), 0, root]]
    while frames:
        f = frames[-1]
        t, room, key, opts, pos, _nb = f
        if pos >= len(opts):
            frames.pop()
            continue
        f[4] = pos + 1
        j = opts[pos]
        b, k = groups[t][j]
        path[t] = j
        if t + 1 == n:
            if key + k < best and b <= room:
                best = key + k
                best_path = list(path)
            continue
        nb = core.bound(t + 1, room - b)
        nodes += 1
        if nb is None or key + k + nb >= best:
            continue
        if nodes > node_limit:
            lb = min([best, key + k + nb] + [fr[5] for fr in frames])
            return best_path, best, lb, False, nodes
        frames.append([t + 1, room - b, key + k, _order(groups[t + 1], fronts[t + 1],
                                                         room - b), 0, key + k + nb])
    return best_path, best, best, True, nodes


def _order(opts: Sequence[tuple[int, int]], front: Sequence[int], room: int) -> list[int]:
    """Options of a group to try, best key first, those that fit only."""
    return [j for j in reversed(front) if opts[j][0] <= room]


# ------------------------------------------------------------------ solving a plan


@dataclass
class Solution:
    """One recipe per item, with the totals. ``objective`` and ``bound`` are exact."""

    picks: list[Choice]
    bits: int
    objective: Fraction
    bound: Fraction
    optimal: bool
    nodes: int
    worst_sqnr: float | None  # the lowest SQNR of any planned tensor (pinned ones too)

    @property
    def gap(self) -> Fraction:
        return self.objective - self.bound


def _allowed(it: Item, min_sqnr: float | None) -> list[Choice]:
    if it.pin is not None:
        return [c for c in it.choices if c.recipe == it.pin]
    return [c for c in it.choices if c.allowed and (
        min_sqnr is None or c.sqnr_db is None or c.sqnr_db >= min_sqnr)]


OBJECTIVES = ("error", "worst")


def check_objective(objective: str, budget: Budget) -> None:
    """The objective's rules, once (the CLI checks them before reading the checkpoint)."""
    if objective not in OBJECTIVES:
        raise UsageError(f"invalid {arg('objective')} {objective!r}; choose error or worst")
    if objective == "worst" and budget.cap(1) is None:
        raise UsageError(f"{arg('objective')} worst needs a size budget ({arg('bits')} or "
                         f"{arg('size')})")


def solve(items: Sequence[Item], budget: Budget, objective: str = "error",
          node_limit: int = NODE_LIMIT) -> Solution:
    """The optimal plan for a budget (PlanError when none meets it)."""
    check_objective(objective, budget)
    params = sum(it.params for it in items)
    cap = budget.cap(params)
    opts = [_allowed(it, budget.min_sqnr) for it in items]
    for it, o in zip(items, opts, strict=True):
        if not o and budget.min_sqnr is None:
            raise PlanError(f"every recipe loses values in tensor {it.name!r}; add a wider "
                            f"recipe to {arg('formats')}")
        if not o:
            assert budget.min_sqnr is not None
            best = max((c.sqnr_db for c in it.choices if c.allowed and c.sqnr_db is not None),
                       default=None)
            raise PlanError(f"no recipe reaches {arg('min_sqnr')} {budget.min_sqnr:g} dB without "
                            f"loss in tensor {it.name!r} (best: "
                            f"{'none' if best is None else f'{best:.2f} dB'})")
        if it.pin is not None and budget.min_sqnr is not None:
            c = o[0]
            if c.sqnr_db is not None and c.sqnr_db < budget.min_sqnr:
                raise PlanError(f"tensor {it.name!r} is pinned to {it.pin} ({it.pin_reason}) "
                                f"at {c.sqnr_db:.2f} dB, below {arg('min_sqnr')} "
                                f"{budget.min_sqnr:g}")
    if cap is None:
        picks = [min(o, key=lambda c: (c.bits, c.error)) for o in opts]
        return _finish(items, picks, None, True, 0)
    if objective == "worst":
        opts = _maximin(items, opts, cap)
    max_bits = sum(max(c.bits for c in o) for o in opts)
    sc = _Scale([c.error for o in opts for c in o], max_bits)
    groups = [[(c.bits, sc.key(c)) for c in o] for o in opts]
    res = solve_mckp(groups, cap, node_limit)
    if res is None:
        least = sum(min(c.bits for c in o) for o in opts)
        raise PlanError(_unmeetable(budget, least, params))
    picks = [o[j] for o, j in zip(opts, res.choice, strict=True)]
    return _finish(items, picks, sc.error_of(res.bound), res.optimal, res.nodes)


def _unmeetable(budget: Budget, least: int, params: int) -> str:
    need = f"{least / params:.4g} bits per parameter, {-(-least // 8):,} bytes"
    what = budget.text()
    return (f"the budget ({what}) cannot be met: even the cheapest allowed recipes need "
            f"{need}")


def _maximin(items: Sequence[Item], opts: list[list[Choice]], cap: int) -> list[list[Choice]]:
    """Keep the choices at or above the highest SQNR floor every free tensor can reach
    within the cap (binary search over the SQNRs that occur)."""
    free = [i for i, it in enumerate(items) if it.pin is None]
    levels = sorted({_sq(c) for i in free for c in opts[i]})

    def need(level: float) -> int | None:
        total = 0
        for i, o in enumerate(opts):
            ok = [c.bits for c in o if items[i].pin is not None or _sq(c) >= level]
            if not ok:
                return None
            total += min(ok)
        return total

    lo, hi = 0, len(levels) - 1
    n0 = need(levels[0]) if levels else None
    if n0 is None or n0 > cap:
        return opts  # the cap is unmeetable anyway: solve() says so
    while lo < hi:
        mid = (lo + hi + 1) // 2
        nm = need(levels[mid])
        if nm is not None and nm <= cap:
            lo = mid
        else:
            hi = mid - 1
    floor = levels[lo]
    return [o if items[i].pin is not None else [c for c in o if _sq(c) >= floor]
            for i, o in enumerate(opts)]


def _sq(c: Choice) -> float:
    return math.inf if c.sqnr_db is None else c.sqnr_db


def _finish(items: Sequence[Item], picks: list[Choice], bound: Fraction | None,
            optimal: bool, nodes: int) -> Solution:
    obj = sum((Fraction(c.error) for c in picks), Fraction(0))
    return Solution(picks, sum(c.bits for c in picks), obj,
                    obj if optimal or bound is None else min(bound, obj), optimal, nodes,
                    min((_sq(c) for c in picks), default=None))


# ------------------------------------------------------------------ the budget sweep


@dataclass(frozen=True)
class SweepRow:
    label: str  # the budget, as the user would write it
    cap_bits: int | None
    solution: Solution | None  # None: the budget cannot be met
    given: bool = False


def sweep(items: Sequence[Item], budget: Budget, objective: str = "error",
          node_limit: int = NODE_LIMIT) -> list[SweepRow]:
    """The optimal plan at a few budgets around the given one (same statistics)."""
    params = sum(it.params for it in items)
    rows: list[SweepRow] = []

    def add(label: str, b: Budget, given: bool = False) -> None:
        try:
            s = solve(items, b, objective, node_limit if given else max(1, node_limit // 5))
        except PlanError:
            s = None
        rows.append(SweepRow(label, b.cap(params), s, given))

    if budget.bits is not None:
        for d in (Fraction(-1), Fraction(-1, 2), Fraction(-1, 4), Fraction(0), Fraction(1, 4),
                  Fraction(1, 2), Fraction(1)):
            b = budget.bits + d
            if b > 0:
                add(f"--bits {_frac_text(b)}", Budget(bits=b, min_sqnr=budget.min_sqnr),
                    d == 0)
    elif budget.size is not None:
        for f in (Fraction(8, 10), Fraction(9, 10), Fraction(1), Fraction(11, 10),
                  Fraction(125, 100)):
            s = math.floor(budget.size * f)
            if s > 0:
                add(f"--size {_size_text(s)}", Budget(size=s, min_sqnr=budget.min_sqnr),
                    f == 1)
    else:
        assert budget.min_sqnr is not None
        for db in (-10.0, -5.0, 0.0, 5.0, 10.0):
            add(f"--min-sqnr {budget.min_sqnr + db:g}", Budget(min_sqnr=budget.min_sqnr + db),
                db == 0)
    return rows


def _size_text(n: int) -> str:
    for unit, m in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= m:
            return f"{n / m:.4g}{unit}"
    return f"{n}B"


# ------------------------------------------------------------------ the plan


@dataclass
class Plan:
    """Everything the views and emitters need."""

    path: str
    kind: str
    recipes: list[str]
    budget: Budget
    objective: str
    items: list[Item]
    skipped: list[tuple[str, str, str]]
    solution: Solution
    sweep: list[SweepRow] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(it.params for it in self.items)

    @property
    def stored_bytes(self) -> int:
        """Bytes of the planned tensors as the checkpoint stores them."""
        return sum(it.nbytes if it.nbytes is not None else -(-it.stored_bits // 8)
                   for it in self.items)

    def pins(self) -> list[tuple[str, str, str]]:
        """(tensor, recipe, reason) of every pinned tensor."""
        return [(it.name, it.pin, it.pin_reason or "") for it in self.items
                if it.pin is not None]


def make_plan(report: Any, recipes: Sequence[Recipe], budget: Budget,
              keeps: Sequence[Keep] = (), objective: str = "error", default_pins: bool = True,
              offer_stored: bool = True, with_sweep: bool = True,
              node_limit: int = NODE_LIMIT) -> Plan:
    """Plan from a :class:`precli.model.analyze.ModelReport` (or anything with its fields)."""
    items, skipped = build_items(report.tensors, recipes, keeps, default_pins, offer_stored)
    sol = solve(items, budget, objective, node_limit)
    rows = sweep(items, budget, objective, node_limit) if with_sweep else []
    return Plan(report.path, report.kind, [r.text for r in recipes], budget, objective, items,
                skipped, sol, rows)


def weighted_sqnr(objective: Fraction, params: int) -> float:
    """-10 log10(objective / params): the parameter-weighted relative error energy in dB."""
    if objective == 0:
        return math.inf
    return -10.0 * (math.log10(objective.numerator) - math.log10(objective.denominator)
                    - math.log10(params))


def _num(v: float | None) -> float | str | None:
    if v is None or math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _totals(plan: Plan, s: Solution) -> dict[str, Any]:
    p = plan.params
    return {
        "params": p,
        "bits": s.bits,
        "bits_per_value": s.bits / p,
        "bytes": -(-s.bits // 8),
        "objective": float(s.objective),
        "weighted_sqnr_db": _num(weighted_sqnr(s.objective, p)),
        "worst_sqnr_db": _num(s.worst_sqnr),
    }


def plan_record(plan: Plan) -> dict[str, Any]:
    """The JSON contract of ``precli plan --output json`` (docs/json.md#plan)."""
    s = plan.solution
    tensors = []
    for it, c in zip(plan.items, s.picks, strict=True):
        tensors.append({
            "tensor": it.name,
            "recipe": c.recipe,
            "params": it.params,
            "bits_per_value": c.bits / it.params,
            "sqnr_db": _num(c.sqnr_db),
            "dtype": it.dtype,
            "shape": list(it.shape),
            "bits": c.bits,
            "error": c.error,
            "pinned": it.pin_reason,
        })
    total = _totals(plan, s)
    total.update({
        "stored_bytes": plan.stored_bytes,
        "bf16_bytes": 2 * plan.params,
        "optimal": s.optimal,
        "bound": float(s.bound),
        "nodes": s.nodes,
    })
    sweep_recs = []
    for row in plan.sweep:
        rec: dict[str, Any] = {"budget": row.label, "given": row.given, "cap_bits": row.cap_bits}
        if row.solution is None:
            rec.update(met=False)
        else:
            rec.update(met=True, **_totals(plan, row.solution),
                       optimal=row.solution.optimal, bound=float(row.solution.bound))
        sweep_recs.append(rec)
    return {
        "input": plan.path,
        "kind": plan.kind,
        "recipes": plan.recipes,
        "budget": {"bits": None if plan.budget.bits is None else float(plan.budget.bits),
                   "size": plan.budget.size, "min_sqnr": plan.budget.min_sqnr,
                   "cap_bits": plan.budget.cap(plan.params)},
        "objective": plan.objective,
        "tensors": tensors,
        "skipped": [{"tensor": n, "dtype": d, "reason": r} for n, d, r in plan.skipped],
        "total": total,
        "sweep": sweep_recs,
    }


# ------------------------------------------------------------------ emitters


def yaml_map(plan: Plan) -> str:
    """A plain YAML map, tensor name -> recipe (stored tensors: their stored format), with
    the budget and totals as comments. Keys and values are plain scalars when that is
    unambiguous in YAML 1.1 and 1.2, double-quoted otherwise."""
    s = plan.solution
    t = _totals(plan, s)
    lines = [
        f"# precli plan {_comment(plan.path)}: {_comment(plan.budget.text())}, "
        f"objective {plan.objective}",
        f"# {t['params']:,} parameters, {t['bits_per_value']:.4f} bits per parameter, "
        f"{t['bytes']:,} bytes",
    ]
    if plan.skipped:
        lines.append(f"# {len(plan.skipped)} tensors skipped (not in the map)")
    for it, c in zip(plan.items, s.picks, strict=True):
        value = it.format if c.recipe == STORED and it.format else c.recipe
        lines.append(f"{yaml_scalar(it.name)}: {yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


_YAML_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


def yaml_scalar(text: str) -> str:
    """A YAML scalar that reads back as exactly `text`, a string."""
    if _YAML_PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return '"' + escape_controls(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


#: ggml block types that are recipes of their own (precli.array.ggml), each its own type.
GGML_RECIPES = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq2_0")

#: ggml types that store a recipe the same way (element, scale layout and widths).
GGML_EQUIVALENTS = (
    ("fp32", "f32", "the same 32-bit floats"),
    ("fp16", "f16", "the same IEEE half floats"),
    ("bf16", "bf16", "the same bfloat16 values"),
    ("int8:group32 --scheme symmetric", "q8_0",
     "blocks of 32 int8 along each row with an fp16 scale amax/127 and no zero point "
     "(8.5 bits); ggml rounds x * (1/d) half away from zero with the fp32 scale d, precli "
     "divides by the stored fp16 scale, ties to even"),
    ("mxfp4", "mxfp4", "OCP MX: blocks of 32 FP4 E2M1 along each row, E8M0 scale "
     "2^(floor(log2 amax) - 2) (4.25 bits); ggml's nearest search breaks exact ties toward "
     "the smaller magnitude, precli ties to even"),
)


def ggml_type(r: Recipe | None, stored_format: str | None = None) -> str | None:
    """The ggml type that stores a recipe the same way, or None (see GGML_EQUIVALENTS).
    ``r`` None means "stored": the stored format's type."""
    if r is None:
        return {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}.get(stored_format or "")
    if r.kind == "cast":
        return {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}.get(r.element.name)
    if r.kind == "ggml":
        return r.rule
    if r.kind == "mx" and r.block is not None and r.block.name == "mxfp4" and r.rule == "floor":
        return "mxfp4"
    if (r.kind == "int" and r.element.name == "int8" and r.rows == 1 and r.cols == 32
            and r.scheme == "symmetric" and r.scale_format == "fp16"):
        return "q8_0"
    return None


def ggml_missing(r: Recipe) -> str:
    """Why a recipe has no ggml type (one clause)."""
    name = r.element.name
    if r.kind == "int" and name == "int8" and r.rows == 1 and r.cols == 32:
        return (f"{r.text} ({r.scheme}, {r.scale_format} scale) is not q8_0, which is "
                "int8:group32 (fp16 scale) with --scheme symmetric")
    if r.kind == "int" and name in ("int4", "uint4") and r.rows == 1 and r.cols == 32:
        return (f"{r.text}: q4_0 scales each block by its signed extreme / -8 with no zero "
                "point, q4_1 stores an fp16 minimum instead of a 4-bit zero point")
    if r.kind == "nvfp4":
        return (f"{r.text}: NVFP4 with its fp32 tensor scale (ggml's nvfp4 blocks, where "
                "present, have none)")
    if r.kind == "mx":
        return f"{r.text}: ggml's only MX type is mxfp4 with the floor scale rule"
    if name.startswith("e") and r.element.bits == 8:
        return f"{r.text}: ggml has no FP8 type"
    return f"{r.text}: no ggml type stores this recipe"


_RX_SYNTAX = set("^$\\.*+?()[]{}|")


def tensor_regex(name: str) -> str:
    """An anchored regular expression matching exactly `name`, that survives llama-quantize
    lowercasing it (uppercase letters and punctuation as \\xNN, dots as \\.) and holds no
    whitespace, quote or glob character."""
    out = ["^"]
    for ch in name:
        if ch.islower() and ch.isascii() or ch.isdigit() and ch.isascii() or ch in "_-/:":
            out.append(ch)
        elif ch == ".":
            out.append("\\.")
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append("$")
    return "".join(out)


def llama_quantize_args(plan: Plan, recipes: Sequence[Recipe]) -> tuple[str, list[str]]:
    """``--tensor-type 'REGEX=TYPE'`` per tensor, one per line, shell-quoted; and the
    tensors whose rows are not a multiple of the ggml block (32), for which llama-quantize
    uses a fallback type. PlanError when a chosen recipe has no ggml type."""
    from precli.sources.gguf import DECODED as GGUF_DECODED

    by_text = {r.text: r for r in recipes}
    lines = []
    ragged = []
    for it, c in zip(plan.items, plan.solution.picks, strict=True):
        r = None if c.recipe == STORED else by_text[c.recipe]
        t = ggml_type(r, it.format)
        if t is None and r is None and it.dtype in GGUF_DECODED:
            t = it.dtype.lower()  # a GGUF block tensor kept as stored keeps its ggml type
        if t is None:
            what = f"it is stored as {it.dtype}" if r is None else ggml_missing(r)
            raise PlanError(f"tensor {it.name!r}: {what}; no ggml type to emit")
        blocked = dict.fromkeys((*GGML_RECIPES, "mxfp4"), 32) | {"tq2_0": 256}
        if t in blocked and (not it.shape or it.shape[-1] % blocked[t]):
            ragged.append(it.name)
        lines.append(f"--tensor-type '{tensor_regex(it.name)}={t}'")
    return "\n".join(lines) + "\n", ragged


def check_ggml(recipes: Sequence[Recipe]) -> None:
    """Refuse --emit llama-quantize up front when a recipe has no ggml type."""
    bad = [ggml_missing(r) for r in recipes if ggml_type(r) is None]
    if bad:
        ok = ", ".join(f"{a} = {b}" for a, b, _ in GGML_EQUIVALENTS)
        ok += ", and the ggml recipes " + ", ".join(GGML_RECIPES) + " (each its own type)"
        raise UsageError(f"{arg('emit')} llama-quantize needs recipes with a ggml type; "
                         + "; ".join(bad) + f" (equivalents: {ok})")
