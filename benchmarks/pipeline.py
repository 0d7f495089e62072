#!/usr/bin/env python3
"""Pipeline benchmark: precli's streaming encode / decode against numpy + ml_dtypes scripts.

Every command is a fresh subprocess of the same interpreter (``sys.executable``), stdin
from a file, stdout to a file (or /dev/null), timed from spawn to exit with its peak RSS
from ``os.wait4``. Each round runs every command once, in an order that rotates from
round to round, so all commands share the machine's noise; one untimed warm-up round
comes first and its outputs are checked. Figures are medians over the rounds, and the
ratios compare medians measured in this same run.

Before anything is timed the script byte-compiles the venv's site-packages and precli
(``python -m compileall -q``) and removes ``PYTHONDONTWRITEBYTECODE`` from every
subprocess's environment: without ``.pyc`` files each start recompiles numpy (~250 ms).

Usage (from the project root)::

    uv run python benchmarks/pipeline.py               # 7 rounds, full sizes (~2 min)
    uv run python benchmarks/pipeline.py --quick       # 3 rounds, sizes / 10 (smoke run)
    uv run python benchmarks/pipeline.py --only text-bf16 --only binary --rounds 9

Cases (``--only`` names) and goals:
    text-bf16    1M decimal lines | encode - --as bf16 --output plain;
                 baseline np.loadtxt + astype(bfloat16) + '0x%04x' lines. baseline/precli >= 1.5
    text-e4m3fn  the same with --as e4m3fn / float8_e4m3fn / '0x%02x'.     baseline/precli >= 1.5
    decode-bf16  the bf16 codes of text-bf16 | decode - --from bf16 --output plain;
                 baseline int(s, 16) + view(bfloat16) + repr per value.    baseline/precli >= 1.5
    binary       10M raw float32 | encode - --input-format f32 --output raw --as bf16;
                 baseline np.fromfile + astype(bfloat16) + write.  >= 100 M values/s end to end
                 (also reported without startup: minus the median of `precli --version`),
                 precli/baseline <= 1.3
    memory       10M decimal lines | encode - --as bf16 --output plain > /dev/null:
                 peak RSS <= 200 MB; 1M lines reported alongside (RSS must not grow with input)
    records      the 1M lines | encode - --as bf16 --output ndjson / csv, and their codes |
                 decode - --from bf16 --output ndjson / csv, each against --output plain of
                 the same command in the same run.            ndjson/plain, csv/plain <= 2
    records-fp32 (only with --only records-fp32: ~30 s a round) the same with --as / --from
                 fp32, ndjson only: a wide format, nearly every value a code of its own, so
                 every record needs its own template.            ratios reported, goal <= 2

For the text cases it also counts the output lines where precli and the baseline differ
and settles each (up to --verify of them) with exact rational arithmetic: the decimal
text as a Fraction, rounded to the format with round-half-even by the small oracle below.

This is a benchmark, not a test: it exits 0 whether goals are met or not (2 if a command
fails).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from bench_common import PY, ROOT, bench_env, compile_all, cpu_model, git, machine_lines, quantile  # noqa: F401,E501

SEED = 20261126
MB = 1_000_000
CASES = ("text-bf16", "text-e4m3fn", "decode-bf16", "binary", "memory", "records",
         "records-fp32")
DEFAULT_CASES = CASES[:-1]  # records-fp32 on request

BASE_ENCODE = """\
import sys
import ml_dtypes
import numpy as np
codes = np.loadtxt(sys.argv[1]).astype(ml_dtypes.{dtype})
sys.stdout.write('\\n'.join('{fmt}' % v for v in codes.view(np.{view}).tolist()) + '\\n')
"""

BASE_DECODE = """\
import sys
import ml_dtypes
import numpy as np
lines = sys.stdin.read().split()
vals = np.array([int(s, 16) for s in lines], np.uint16).view(ml_dtypes.bfloat16)
vals = vals.astype(np.float32)
sys.stdout.write('\\n'.join([repr(x) for x in vals.tolist()]) + '\\n')
"""

BASE_BINARY = """\
import sys
import ml_dtypes
import numpy as np
a = np.fromfile(sys.argv[1], dtype='<f4')
sys.stdout.buffer.write(a.astype(ml_dtypes.bfloat16).tobytes())
"""


@dataclass
class Cmd:
    key: str
    case: str
    label: str
    argv: list[str]
    stdin: Path
    stdout: Path  # a file under the temp dir, or /dev/null
    n: int = 0  # values processed, for throughput
    times: list[float] = field(default_factory=list)  # seconds
    rss: list[int] = field(default_factory=list)  # peak RSS, bytes

    @property
    def med(self) -> float:
        return statistics.median(self.times)

    @property
    def med_rss(self) -> float:
        return statistics.median(self.rss)


# ------------------------------------------------------------------ environment


# ------------------------------------------------------------------ data


def write_decimal_lines(path: Path, n: int, seed: int, chunk: int = 1_000_000) -> None:
    """n lines of '%.17g' % (standard normal * 100), generated and written a chunk at a time."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for start in range(0, n, chunk):
            v = rng.standard_normal(min(chunk, n - start)) * 100
            f.write("\n".join([f"{x:.17g}" for x in v.tolist()]))
            f.write("\n")


def write_f32(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    (rng.standard_normal(n) * 100).astype("<f4").tofile(path)


# ------------------------------------------------------------------ running


GNU_TIME = "/usr/bin/time"


def run(cmd: Cmd, env: dict[str, str]) -> tuple[float, int]:
    """Wall time and peak RSS of one run.

    The command runs under GNU time (``/usr/bin/time -f %M``), which reports its child's
    peak RSS: this process's own ``os.wait4`` figure would be useless, because Linux
    carries a process's peak RSS across exec and a child forked from this script starts
    with the script's memory (the generated data) as its peak. Without GNU time the
    wait4 figure is reported anyway and flagged.
    """
    with open(cmd.stdin, "rb") as fin, open(cmd.stdout, "wb") as fout, \
            tempfile.TemporaryFile() as ferr, tempfile.NamedTemporaryFile() as frss:
        rss_file = Path(frss.name)
        argv = cmd.argv
        if HAVE_TIME:
            argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=env, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            ferr.seek(0)
            sys.stderr.write(f"command failed (exit {p.returncode}): {cmd.label}\n"
                             f"{ferr.read().decode(errors='replace')[-3000:]}\n")
            sys.exit(2)
        kb = int(rss_file.read_text().split()[-1]) if HAVE_TIME else ru.ru_maxrss
    return dt, kb * 1024  # kilobytes on Linux


HAVE_TIME = os.access(GNU_TIME, os.X_OK)


def bench(cmds: list[Cmd], rounds: int, env: dict[str, str]) -> None:
    n = len(cmds)
    for r in range(rounds):
        t0 = time.perf_counter()
        k = r % n
        for c in cmds[k:] + cmds[:k]:
            dt, rss = run(c, env)
            c.times.append(dt)
            c.rss.append(rss)
        print(f"  round {r + 1}/{rounds}: {time.perf_counter() - t0:.1f} s, "
              f"load {os.getloadavg()[0]:.2f}", flush=True)


# ------------------------------------------------------------------ exact oracle


@dataclass(frozen=True)
class Spec:
    name: str
    ebits: int
    mbits: int
    fn: bool  # e4m3fn style: no infinities, only S.1111.111 is NaN

    @property
    def bias(self) -> int:
        return (1 << (self.ebits - 1)) - 1

    @property
    def max_value(self) -> Fraction:
        m = self.mbits
        if self.fn:  # top exponent is finite; its all-ones mantissa is the NaN
            top = (1 << self.ebits) - 1 - self.bias
            return (2 - Fraction(2, 1 << m)) * Fraction(2) ** top
        top = (1 << self.ebits) - 2 - self.bias
        return (2 - Fraction(1, 1 << m)) * Fraction(2) ** top


BF16 = Spec("bf16", 8, 7, False)
E4M3FN = Spec("e4m3fn", 4, 3, True)


def _floor_log2(a: Fraction) -> int:
    e = a.numerator.bit_length() - a.denominator.bit_length()
    return e - 1 if a < Fraction(2) ** e else e


def oracle_code(spec: Spec, x: Fraction) -> int:
    """The round-half-even code of the exact rational x (a decimal text read by Fraction;
    a Fraction has no -0, which this data never contains)."""
    m, bias = spec.mbits, spec.bias
    sign = (1 << (spec.ebits + m)) if x < 0 else 0
    a = abs(x)
    if a == 0:
        return sign
    emin = 1 - bias
    e = max(_floor_log2(a), emin)
    q = Fraction(2) ** (e - m)  # the spacing of the binade (or of the subnormals)
    n = a / q
    k = n.numerator // n.denominator
    rem = n - k
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and k % 2 == 1):
        k += 1
    r = k * q
    if r > spec.max_value:  # overflow: inf, or NaN for the fn formats (no saturation)
        ones = (1 << spec.ebits) - 1
        return sign | (ones << m) | (((1 << m) - 1) if spec.fn else 0)
    if r == 0:
        return sign
    if r < Fraction(2) ** emin:  # subnormal
        return sign | int(r / Fraction(2) ** (emin - m))
    E = _floor_log2(r)
    mant = r / Fraction(2) ** (E - m) - (1 << m)
    assert mant.denominator == 1 and 0 <= mant < (1 << m)
    return sign | ((E + bias) << m) | int(mant)


def via_float32(spec: Spec, text: str) -> int:
    """What a cast that goes decimal -> float64 -> float32 -> target gives (double rounding)."""
    return oracle_code(spec, Fraction(float(np.float32(float(text)))))


# Decimals just off a midpoint of the target whose float32 lands exactly on it: a cast
# through float32 ties them to even, the wrong way. Checked by the oracle, not hard-coded.
TRAPS = {
    "bf16": ["1.00390625000001", "1.01171874999999", "-301.00000001", "0.1"],
    "e4m3fn": ["1.0625000001", "-1.1874999999", "303.99999", "0.1"],
}


@dataclass
class DiffReport:
    total: int
    differ: int
    verified: int = 0
    precli_right: int = 0
    baseline_right: int = 0
    baseline_is_f32_route: int = 0
    examples: list[tuple[int, str, str, str, str, str]] = field(default_factory=list)
    sample: int = 0
    sample_ok: int = 0


def compare_text(spec: Spec, inp: Path, ours: Path, base: Path, verify: int, show: int,
                 sample: int) -> DiffReport:
    src = inp.read_bytes().split()
    a = ours.read_bytes().split()
    b = base.read_bytes().split()
    if not len(src) == len(a) == len(b):
        print(f"  line counts differ: input {len(src)}, precli {len(a)}, baseline {len(b)}")
    n = min(len(src), len(a), len(b))
    differ = [i for i in range(n) if a[i] != b[i]]
    rep = DiffReport(n, len(differ))
    for i in differ[:verify]:
        text = src[i].decode()
        want = oracle_code(spec, Fraction(text))  # exact: no float
        f32 = via_float32(spec, text)
        pa, pb = int(a[i], 16), int(b[i], 16)
        rep.verified += 1
        rep.precli_right += pa == want
        rep.baseline_right += pb == want
        rep.baseline_is_f32_route += pb == f32
        if len(rep.examples) < show:
            w = spec.ebits + spec.mbits + 1
            h = (w + 3) // 4
            rep.examples.append((i + 1, text, a[i].decode(), b[i].decode(),
                                 f"0x{want:0{h}x}", f"0x{f32:0{h}x}"))
    # The oracle against a random sample of all lines, as a check on the oracle itself.
    rnd = random.Random(SEED)
    for i in rnd.sample(range(n), min(sample, n)):
        rep.sample += 1
        rep.sample_ok += int(a[i], 16) == oracle_code(spec, Fraction(src[i].decode()))
    return rep


def check_decode(codes_path: Path, ours: Path, base: Path) -> str:
    """precli's decode texts must read back (round to bf16) as the codes they came from."""
    import ml_dtypes

    codes = np.array([int(s, 16) for s in codes_path.read_bytes().split()], np.uint16)
    mine = np.array([float(s) for s in ours.read_bytes().split()])
    theirs = np.array([float(s) for s in base.read_bytes().split()])
    if not len(codes) == len(mine) == len(theirs):
        return f"line counts differ: codes {len(codes)}, precli {len(mine)}, baseline {len(theirs)}"
    back = mine.astype(np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)
    exact = codes.view(ml_dtypes.bfloat16).astype(np.float64)
    ok_p = int(np.sum(back == codes))
    ok_b = int(np.sum(theirs == exact))
    shorter = sum(len(x) for x in ours.read_bytes().split()) / max(len(codes), 1)
    longer = sum(len(x) for x in base.read_bytes().split()) / max(len(codes), 1)
    return (f"precli texts that read back to their code: {ok_p}/{len(codes)}; baseline "
            f"values equal to the code's exact value: {ok_b}/{len(codes)}; mean text length "
            f"{shorter:.2f} (precli, shortest bf16) vs {longer:.2f} (baseline, float32 repr)")


# ------------------------------------------------------------------ report


def report_table(cmds: list[Cmd]) -> None:
    w = max(len(c.label) for c in cmds)
    print(f"\n{'command':<{w}}  {'median':>9}  {'min':>9}  {'p25-p75':>17}  {'peak RSS':>9}"
          f"  {'M values/s':>10}")
    for c in cmds:
        iqr = f"{quantile(c.times, .25) * 1e3:.0f}-{quantile(c.times, .75) * 1e3:.0f}"
        thr = f"{c.n / c.med / 1e6:10.1f}" if c.n else f"{'':10}"
        print(f"{c.label:<{w}}  {c.med * 1e3:7.0f}ms  {min(c.times) * 1e3:7.0f}ms  "
              f"{iqr:>15}ms  {c.med_rss / MB:6.0f} MB  {thr}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def goals(by: dict[str, Cmd]) -> list[str]:
    out = []
    for case, name in (("text-bf16", "bf16"), ("text-e4m3fn", "e4m3fn"),
                       ("decode-bf16", "decode bf16")):
        p, b = by.get(f"{case}:precli"), by.get(f"{case}:baseline")
        if p and b:
            r = b.med / p.med
            out.append(f"{verdict(r >= 1.5)}  {case:<12} {name}: baseline/precli = {r:.2f}x "
                       f"(precli {p.med * 1e3:.0f} ms, baseline {b.med * 1e3:.0f} ms; "
                       "goal >= 1.5x)")
    p, b, v = by.get("binary:precli"), by.get("binary:baseline"), by.get("binary:version")
    if p and b and v:
        incl = p.n / p.med / 1e6
        net = p.med - v.med
        excl = p.n / net / 1e6 if net > 0 else float("inf")
        r = p.med / b.med
        out.append(f"{verdict(incl >= 100)}  binary       {incl:.0f} M values/s including "
                   f"startup ({p.med * 1e3:.0f} ms for {p.n / 1e6:g}M; goal >= 100)")
        out.append(f"{verdict(excl >= 100)}  binary       {excl:.0f} M values/s excluding "
                   f"startup ({net * 1e3:.0f} ms after `precli --version`'s "
                   f"{v.med * 1e3:.0f} ms; goal >= 100)")
        imp = by.get("binary:imports")
        if imp and p.med > imp.med:
            out.append(f"----  binary       {p.n / (p.med - imp.med) / 1e6:.0f} M values/s "
                       f"excluding all imports ({(p.med - imp.med) * 1e3:.0f} ms after the "
                       f"{imp.med * 1e3:.0f} ms of importing precli.cli.app, precli.cli.streams "
                       "and "
                       "numpy; reported only)")
        out.append(f"{verdict(r <= 1.3)}  binary       precli/baseline = {r:.2f}x "
                   f"(baseline {b.med * 1e3:.0f} ms; goal <= 1.3x)")
    big, small = by.get("memory:large"), by.get("memory:small")
    if big:
        rss = max(big.rss)
        extra = ""
        if small:
            extra = (f"; {small.n / 1e6:g}M lines: {max(small.rss) / MB:.0f} MB "
                     f"({small.med:.2f} s)")
        out.append(f"{verdict(rss <= 200 * MB)}  memory       peak RSS {rss / MB:.0f} MB "
                   f"({rss / 2**20:.0f} MiB, max over rounds) for {big.n / 1e6:g}M lines in "
                   f"{big.med:.2f} s = {big.n / big.med / 1e6:.2f} M lines/s{extra} "
                   "(goal <= 200 MB)")
    for case in ("records", "records-fp32"):
        for verb in ("encode", "decode"):
            plain = by.get(f"{case}:{verb}:plain")
            for mode in ("ndjson", "csv"):
                c = by.get(f"{case}:{verb}:{mode}")
                if plain and c:
                    r = c.med / plain.med
                    out.append(f"{verdict(r <= 2)}  {case:<12} {verb} -o {mode}: {r:.2f}x "
                               f"plain ({c.med * 1e3:.0f} ms vs {plain.med * 1e3:.0f} ms, "
                               f"peak RSS {c.med_rss / MB:.0f} MB; goal <= 2x)")
    return out


# ------------------------------------------------------------------ main


def build(cases: list[str], tmp: Path, a: argparse.Namespace) -> list[Cmd]:
    pre = [PY, "-m", "precli"]
    dn = Path(os.devnull)
    text = tmp / "text.txt"
    cmds: list[Cmd] = []
    if "text-bf16" in cases or "decode-bf16" in cases:
        cmds.append(Cmd("text-bf16:precli", "text-bf16",
                        "precli encode - --as bf16 -o plain",
                        [*pre, "encode", "-", "--as", "bf16", "--output", "plain"],
                        text, tmp / "bf16.precli", a.text_lines))
    if "text-bf16" in cases:
        cmds.append(Cmd("text-bf16:baseline", "text-bf16", "baseline loadtxt -> bfloat16",
                        [PY, "-c", BASE_ENCODE.format(dtype="bfloat16", fmt="0x%04x",
                                                      view="uint16"), str(text)],
                        text, tmp / "bf16.base", a.text_lines))
    if "text-e4m3fn" in cases:
        cmds.append(Cmd("text-e4m3fn:precli", "text-e4m3fn",
                        "precli encode - --as e4m3fn -o plain",
                        [*pre, "encode", "-", "--as", "e4m3fn", "--output", "plain"],
                        text, tmp / "e4m3.precli", a.text_lines))
        cmds.append(Cmd("text-e4m3fn:baseline", "text-e4m3fn",
                        "baseline loadtxt -> float8_e4m3fn",
                        [PY, "-c", BASE_ENCODE.format(dtype="float8_e4m3fn", fmt="0x%02x",
                                                      view="uint8"), str(text)],
                        text, tmp / "e4m3.base", a.text_lines))
    if "decode-bf16" in cases:
        codes = tmp / "bf16.codes"
        cmds.append(Cmd("decode-bf16:precli", "decode-bf16",
                        "precli decode - --from bf16 -o plain",
                        [*pre, "decode", "-", "--from", "bf16", "--output", "plain"],
                        codes, tmp / "dec.precli", a.text_lines))
        cmds.append(Cmd("decode-bf16:baseline", "decode-bf16", "baseline int(s,16) -> repr",
                        [PY, "-c", BASE_DECODE], codes, tmp / "dec.base", a.text_lines))
    if "binary" in cases:
        f32 = tmp / "values.f32"
        cmds.append(Cmd("binary:precli", "binary",
                        "precli encode - --input-format f32 -o raw --as bf16",
                        [*pre, "encode", "-", "--input-format", "f32", "--output", "raw",
                         "--as", "bf16"], f32, tmp / "bin.precli", a.binary_values))
        cmds.append(Cmd("binary:baseline", "binary", "baseline fromfile -> bfloat16",
                        [PY, "-c", BASE_BINARY, str(f32)], f32, tmp / "bin.base",
                        a.binary_values))
        cmds.append(Cmd("binary:version", "binary", "precli --version (startup)",
                        [*pre, "--version"], dn, dn))
        # Reference only: what every streaming run imports before it reads a byte.
        cmds.append(Cmd("binary:imports", "binary",
                        "python -c 'import precli.cli.app, precli.cli.streams'",
                        [PY, "-c", "import precli.cli.app, precli.cli.streams"], dn, dn))
    if "records" in cases:
        codes = tmp / "bf16.codes"
        for verb, src, fmt_opt in (("encode", text, "--as"), ("decode", codes, "--from")):
            for mode in ("plain", "ndjson", "csv"):
                cmds.append(Cmd(f"records:{verb}:{mode}", "records",
                                f"precli {verb} - {fmt_opt} bf16 -o {mode} > /dev/null",
                                [*pre, verb, "-", fmt_opt, "bf16", "--output", mode],
                                src, dn, a.text_lines))
    if "records-fp32" in cases:
        codes = tmp / "fp32.codes"
        for verb, src, fmt_opt in (("encode", text, "--as"), ("decode", codes, "--from")):
            for mode in ("plain", "ndjson"):
                cmds.append(Cmd(f"records-fp32:{verb}:{mode}", "records-fp32",
                                f"precli {verb} - {fmt_opt} fp32 -o {mode} > /dev/null",
                                [*pre, verb, "-", fmt_opt, "fp32", "--output", mode],
                                src, dn, a.text_lines))
    if "memory" in cases:
        enc = ["encode", "-", "--as", "bf16", "--output", "plain"]
        cmds.append(Cmd("memory:large", "memory",
                        f"precli encode bf16, {a.memory_lines / 1e6:g}M lines > /dev/null",
                        [*pre, *enc], tmp / "big.txt", dn, a.memory_lines))
        cmds.append(Cmd("memory:small", "memory",
                        f"precli encode bf16, {a.text_lines / 1e6:g}M lines > /dev/null",
                        [*pre, *enc], text, dn, a.text_lines))
    return cmds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=None,
                    help="timed rounds (default 7; 3 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 rounds and a tenth of the sizes")
    ap.add_argument("--only", action="append", choices=CASES, metavar="NAME",
                    help=f"run only this case (repeatable): {', '.join(CASES)}")
    ap.add_argument("--text-lines", type=int, default=None, help="default 1,000,000")
    ap.add_argument("--binary-values", type=int, default=None, help="default 10,000,000")
    ap.add_argument("--memory-lines", type=int, default=None, help="default 10,000,000")
    ap.add_argument("--verify", type=int, default=200,
                    help="differing lines to settle with the exact oracle (default 200)")
    ap.add_argument("--examples", type=int, default=3, help="differing lines to show")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and print it")
    a = ap.parse_args()
    div = 10 if a.quick else 1
    a.rounds = a.rounds or (3 if a.quick else 7)
    a.text_lines = a.text_lines or 1_000_000 // div
    a.binary_values = a.binary_values or 10_000_000 // div
    a.memory_lines = a.memory_lines or 10_000_000 // div
    if a.rounds < 1:
        ap.error("--rounds must be >= 1")
    cases = list(dict.fromkeys(a.only or DEFAULT_CASES))

    env = bench_env()
    for line in machine_lines():
        print(line)
    print(f"compileall (site-packages + precli): {compile_all(env):.1f} s; peak RSS from "
          + ("GNU time" if HAVE_TIME else "wait4 (NO /usr/bin/time: inflated by this script)"))
    tmp = Path(tempfile.mkdtemp(prefix="precli-pipeline-"))
    try:
        return _main(a, cases, env, tmp)
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()


def _main(a: argparse.Namespace, cases: list[str], env: dict[str, str], tmp: Path) -> int:
    t0 = time.perf_counter()
    if any(c in cases for c in ("text-bf16", "text-e4m3fn", "decode-bf16", "memory",
                                "records", "records-fp32")):
        write_decimal_lines(tmp / "text.txt", a.text_lines, SEED)
    if "binary" in cases:
        write_f32(tmp / "values.f32", a.binary_values, SEED + 1)
    if "memory" in cases:
        write_decimal_lines(tmp / "big.txt", a.memory_lines, SEED + 2)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / MB:.0f} MB" for p in sorted(tmp.iterdir()))
    print(f"data ({time.perf_counter() - t0:.1f} s): {sizes}")

    cmds = build(cases, tmp, a)
    by = {c.key: c for c in cmds}
    if "decode-bf16" in cases or "records" in cases:  # input: precli's bf16 codes of the text
        maker = by.get("text-bf16:precli") or Cmd(
            "codes", "records", "codes", [PY, "-m", "precli", "encode", "-", "--as", "bf16",
                                          "--output", "plain"], tmp / "text.txt",
            tmp / "bf16.precli")
        run(maker, env)
        (tmp / "bf16.codes").write_bytes((tmp / "bf16.precli").read_bytes())
    if "records-fp32" in cases:  # input: precli's fp32 codes of the text
        run(Cmd("codes32", "records-fp32", "codes", [PY, "-m", "precli", "encode", "-",
                                                     "--as", "fp32", "--output", "plain"],
                tmp / "text.txt", tmp / "fp32.codes"), env)
    if "text-bf16" not in cases:  # only there to make the codes
        cmds = [c for c in cmds if c.case != "text-bf16"]
        by.pop("text-bf16:precli", None)

    print(f"warm-up round, then {a.rounds} rounds x {len(cmds)} commands (rotating order)")
    for c in cmds:
        run(c, env)
    checks = correctness(cases, tmp, a, by, env)
    bench(cmds, a.rounds, env)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report_table(cmds)
    print()
    for line in goals(by):
        print(line)
    print()
    for line in checks:
        print(line)
    return 0


def traps(spec: Spec, by: dict[str, Cmd], case: str, tmp: Path, env: dict[str, str]) -> str:
    """Run the crafted TRAPS lines through precli and the baseline (untimed) and settle them."""
    path = tmp / f"traps-{spec.name}.txt"
    lines = TRAPS[spec.name]
    path.write_text("\n".join(lines) + "\n")
    outs = []
    for who in ("precli", "baseline"):
        c = by[f"{case}:{who}"]
        argv = c.argv[:-1] + [str(path)] if who == "baseline" else c.argv
        t = Cmd("trap", case, c.label, argv, path, tmp / f"traps-{spec.name}.{who}")
        run(t, env)
        outs.append(t.stdout.read_bytes().split())
        t.stdout.unlink()
    h = (spec.ebits + spec.mbits + 4) // 4
    rows = ["  crafted lines (untimed; see TRAPS):"]
    for text, p, b in zip(lines, *outs, strict=True):
        want = f"0x{oracle_code(spec, Fraction(text)):0{h}x}"
        rows.append(f"    {text:<18} precli {p.decode()}{'' if p.decode() == want else ' WRONG'}"
                    f"  baseline {b.decode()}{'' if b.decode() == want else ' (wrong)'}"
                    f"  exact RNE {want}  via float32 {via_float32(spec, text):#0{h + 2}x}")
    return "\n".join(rows)


def correctness(cases: list[str], tmp: Path, a: argparse.Namespace, by: dict[str, Cmd],
                env: dict[str, str]) -> list[str]:
    out = []
    for case, spec, stem in (("text-bf16", BF16, "bf16"), ("text-e4m3fn", E4M3FN, "e4m3")):
        if case not in cases:
            continue
        rep = compare_text(spec, tmp / "text.txt", tmp / f"{stem}.precli", tmp / f"{stem}.base",
                           a.verify, a.examples, 1000)
        out.append(f"{case}: {rep.differ} of {rep.total} output lines differ between precli "
                   f"and the baseline")
        if rep.verified:
            out.append(f"  exact oracle on {rep.verified} of them: precli correct "
                       f"{rep.precli_right}, baseline correct {rep.baseline_right}; baseline "
                       f"equals the double rounding decimal -> float32 -> {spec.name} in "
                       f"{rep.baseline_is_f32_route}")
        for line, text, p, b, want, f32 in rep.examples:
            out.append(f"  line {line}: {text}  precli {p}  baseline {b}  exact RNE {want}  "
                       f"via float32 {f32}")
        out.append(f"  oracle vs precli on a random sample of {rep.sample} lines: "
                   f"{rep.sample_ok} agree")
        out.append(traps(spec, by, case, tmp, env))
    if "decode-bf16" in cases:
        out.append("decode-bf16: " + check_decode(tmp / "bf16.codes", tmp / "dec.precli",
                                                  tmp / "dec.base"))
    if "binary" in cases:
        same = (tmp / "bin.precli").read_bytes() == (tmp / "bin.base").read_bytes()
        out.append(f"binary: precli and baseline outputs are "
                   f"{'byte-identical' if same else 'DIFFERENT'} "
                   f"({(tmp / 'bin.precli').stat().st_size / MB:.0f} MB)")
    return out


if __name__ == "__main__":
    sys.exit(main())
