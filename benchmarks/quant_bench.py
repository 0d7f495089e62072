"""Throughput of `precli check` and `precli diff` on quantized copies of the benchmark
checkpoint (benchmarks/gen_checkpoint.py, then benchmarks/gen_quantized.py for the DeepSeek
FP8 and ModelOpt NVFP4 layouts).

Each run is a fresh subprocess calling the core (precli.model.check.check_checkpoint /
precli.model.diff.diff_checkpoints) with a thread sampling its own peak RssAnon and plain RSS
(/proc/self/status, every 20 ms; with --jobs 2 the workers' memory is not included).
Throughput is the bytes of the checkpoint read (check: the quantized file; diff: both
files) per second.

    uv run python benchmarks/quant_bench.py BF16 FP8 NVFP4
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench_common import PEAK_SAMPLER

ROOT = Path(__file__).resolve().parent.parent

CODE = """
import json, sys, time, threading
""" + PEAK_SAMPLER + """what, jobs, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t0 = time.perf_counter()
if what == "check":
    from precli.model.check import check_checkpoint
    rep = check_checkpoint(args[0], jobs=jobs)
    n = len(rep.findings)
else:
    from precli.model.diff import diff_checkpoints
    rep = diff_checkpoints(args[0], args[1], jobs=jobs)
    n = len(rep.tensors)
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "n": n, **peak}))
"""


def run(what: str, jobs: int, *paths: str) -> dict[str, float]:
    p = subprocess.run([sys.executable, "-c", CODE, what, str(jobs), *paths],
                       capture_output=True, text=True, cwd=ROOT, check=True)
    out: dict[str, float] = json.loads(p.stdout)
    return out


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bf16, fp8, nvfp4 = sys.argv[1:]
    rows = []
    names = {fp8: "FP8-block128 (DeepSeek)", nvfp4: "NVFP4 (ModelOpt)"}
    # (command, jobs, quantized file): a subset, each run takes minutes on 2 shared cores
    plan = [("check", 1, fp8), ("check", 2, fp8), ("check", 2, nvfp4), ("diff", 2, fp8)]
    for what, jobs, q in plan:
        qb = os.path.getsize(q)
        if what == "check":
            r = run("check", jobs, q)
            rows.append((f"check {names[q]}", jobs, qb, r))
        else:
            r = run("diff", jobs, bf16, q)
            rows.append((f"diff bf16 vs {names[q]}", jobs, qb + os.path.getsize(bf16), r))
        print(rows[-1], file=sys.stderr, flush=True)
    sys.path.insert(0, str(ROOT))
    from precli.sources import open_checkpoint

    params = sum(t.numel for t in open_checkpoint(bf16).tensors())
    print("| run | jobs | bytes read | seconds | MB/s | M params/s | peak RssAnon MB | "
          "peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for what, jobs, nbytes, r in rows:
        print(f"| {what} | {jobs} | {nbytes / 1e9:.2f} GB | {r['seconds']:.1f} | "
              f"{nbytes / 1e6 / r['seconds']:.1f} | {params / 1e6 / r['seconds']:.1f} | "
              f"{r['anon']} | {r['rss']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
