"""Throughput of the vectorized codec against ml_dtypes' casts (same process, same data).

    uv run python benchmarks/codec_bench.py [--n 10000000] [--repeat 5] [--seed 0]

Rounds float32 -> bf16 and float32 -> e4m3fn (nearest-even, non-saturating: the
semantics of an ml_dtypes ``astype``) and reports millions of values per second, best of
--repeat runs, and the ratio codec / ml_dtypes; checks that both produce the same values.
Also times decode_array and hex_strings against their obvious alternatives.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from precli.array import codec
from precli.core.formats import get_format


def best_of(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: plans, lookup tables, page faults
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import ml_dtypes  # test-only dependency (dev group)

    n = args.n
    rng = np.random.default_rng(args.seed)
    mvals = n / 1e6
    datasets = {
        # magnitudes spread over 2**-8 .. 2**8: about a fifth are e4m3fn subnormals
        "wide": (rng.standard_normal(n) * np.exp2(rng.integers(-8, 8, n))).astype(np.float32),
        # N(0, 4**2): nearly every value is a normal fp8 / bf16 number
        "normal": (rng.standard_normal(n) * 4).astype(np.float32),
    }
    print(f"numpy {np.__version__}, ml_dtypes {ml_dtypes.__version__}, n = {n:,} float32")
    print(f"{'conversion':42} {'codec M/s':>10} {'ml_dtypes M/s':>14} {'ratio':>7}")
    w = datasets["wide"]
    for name, dt in (("bf16", ml_dtypes.bfloat16), ("e4m3fn", ml_dtypes.float8_e4m3fn)):
        fmt = get_format(name)
        for data, x in datasets.items():
            t_ours = best_of(lambda fmt=fmt, x=x: codec.round_array(fmt, x), args.repeat)
            with np.errstate(over="ignore", invalid="ignore"):
                t_ml = best_of(lambda dt=dt, x=x: x.astype(dt), args.repeat)
                ref = x.astype(dt)
            codes, _ = codec.round_array(fmt, x)
            same = np.array_equal(codes, ref.view(codes.dtype))
            label = f"float32 -> {name} nearest-even, {data}"
            print(
                f"{label:42} {mvals / t_ours:10.1f} {mvals / t_ml:14.1f} "
                f"{t_ml / t_ours:7.2f}   identical codes: {same}"
            )
        for mode in ("stochastic", "toward-zero"):
            t = best_of(
                lambda fmt=fmt, mode=mode: codec.round_array(fmt, w, mode, seed=1), args.repeat
            )
            print(f"{'float32 -> ' + name + ' ' + mode + ', wide':42} {mvals / t:10.1f}")
        t = best_of(lambda fmt=fmt: codec.round_array_with_flags(fmt, w), args.repeat)
        print(f"{'float32 -> ' + name + ' nearest-even + flags, wide':42} {mvals / t:10.1f}")

    x = datasets["wide"]
    x64 = x.astype(np.float64)
    fmt = get_format("e4m3fn")
    t = best_of(lambda: codec.round_array(fmt, x64), args.repeat)
    print(f"{'float64 -> e4m3fn nearest-even, wide':42} {mvals / t:10.1f}")

    codes, _ = codec.round_array(fmt, x)
    t_dec = best_of(lambda: codec.decode_array(fmt, codes), args.repeat)
    t_ml = best_of(lambda: codes.view(ml_dtypes.float8_e4m3fn).astype(np.float64), args.repeat)
    print(f"{'decode e4m3fn -> float64':42} {mvals / t_dec:10.1f} {mvals / t_ml:14.1f} "
          f"{t_ml / t_dec:7.2f}")  # fmt: skip

    t_hex = best_of(lambda: codec.hex_strings(codes, fmt), args.repeat)
    k = min(n, 1_000_000)
    few = codes[:k].tolist()
    t_py = best_of(lambda: "".join(f"0x{c:02x}\n" for c in few).encode(), 1) * (n / k)
    print(f"{'hex_strings e4m3fn':42} {mvals / t_hex:10.1f}   python f-string formatting: "
          f"{mvals / t_py:.1f} M/s ({t_py / t_hex:.0f}x slower)")  # fmt: skip


if __name__ == "__main__":
    main()
