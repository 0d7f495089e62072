"""Speed of precli.stream.floatrepr.repr_matrix against ``list(map(repr, v.tolist()))``.

    uv run python benchmarks/fastrepr_bench.py [--n 1000000] [--repeat 5] [--seed 0]

Data: n random positive doubles ``|N(0,1)| * 10**U{-20..4}`` (the brief's mix for rounding
errors). Prints the best-of-repeat time of repr_matrix (after one warm-up call that also
builds its tables), the time of Python's repr over the same values (including ``tolist``),
their ratio, and the share of lanes with ok=True. Also checks every ok row against repr.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from precli.stream.floatrepr import repr_matrix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.n
    v = np.abs(rng.standard_normal(n)) * 10.0 ** rng.integers(-20, 5, n)

    t0 = time.perf_counter()
    repr_matrix(v[:10])  # warm-up: tables
    t_tables = time.perf_counter() - t0
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        text, length, ok = repr_matrix(v)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref = list(map(repr, v.tolist()))
    t_repr = time.perf_counter() - t0

    rows = [bytes(r[:k]).decode() for r, k in zip(text.tolist(), length.tolist(), strict=True)]
    wrong = sum(1 for r, s, o in zip(rows, ref, ok.tolist(), strict=True) if o and r != s)
    print(f"n = {n}")
    print(f"repr_matrix           {best * 1e3:8.1f} ms (best of {args.repeat}; "
          f"tables once {t_tables * 1e3:.0f} ms)")
    print(f"list(map(repr, ...))  {t_repr * 1e3:8.1f} ms")
    print(f"ratio                 {t_repr / best:8.1f}x faster")
    print(f"ok share              {ok.mean() * 100:8.4f} %  ({int((~ok).sum())} lanes to repr)")
    print(f"ok rows != repr       {wrong:8d}")
    if wrong:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
