"""Time precli.sources reading a whole checkpoint, against a plain numpy + ml_dtypes read.

Both sides walk every tensor in 1 Mi-element chunks, decode them exactly to float32 and
take each chunk's sum of squares (a stand-in for statistics, the same work on both sides):

* precli: ``open_checkpoint`` (header parsed and validated), ``Tensor.chunks``;
* baseline: ``json`` header parse, ``np.memmap`` of the data, ``.view(ml_dtypes.bfloat16)
  .astype(np.float32)`` per chunk (bf16 tensors; float16/32 as they are).

Reports seconds, GB/s of checkpoint, the machine's memcpy bandwidth measured in the same
run, and peak RssAnon and plain RSS of each side (each side runs in a fresh subprocess).

    uv run python benchmarks/read_checkpoint.py [CKPT]   # default: gen_checkpoint.py's output
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench_common import PEAK_SAMPLER

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "benchmarks" / "out" / "ckpt-bf16.safetensors"

_COMMON = """
import json, sys, time, threading
import numpy as np
""" + PEAK_SAMPLER + """path = sys.argv[1]
CH = 1 << 20
t0 = time.perf_counter()
total = 0.0
"""

PRECLI = _COMMON + """
from precli.sources import open_checkpoint
ck = open_checkpoint(path)
for t in ck.tensors():
    for c in t.chunks(CH):
        total += float(np.dot(c, c))
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "total": total, **peak}))
"""

BASELINE = _COMMON + """
import ml_dtypes
with open(path, "rb") as f:
    n = int.from_bytes(f.read(8), "little")
    header = json.loads(f.read(n))
data = np.memmap(path, np.uint8, "r", offset=8 + n)
types = {"BF16": ml_dtypes.bfloat16, "F16": np.float16, "F32": np.float32}
items = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
               key=lambda kv: kv[1]["data_offsets"][0])
for name, info in items:
    b0, b1 = info["data_offsets"]
    a = data[b0:b1].view(types[info["dtype"]])
    for s in range(0, a.size, CH):
        c = a[s : s + CH].astype(np.float32)
        total += float(np.dot(c, c))
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "total": total, **peak}))
"""


def memcpy_gbs() -> float:
    import numpy as np

    a = np.ones(1 << 27, np.uint8)  # 128 MiB
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best / 1e9


def run(code: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    size = path.stat().st_size
    run(BASELINE, path)  # warm the page cache: both sides then read from memory
    results = {"precli.sources": [], "numpy+ml_dtypes": []}  # type: dict[str, list[dict[str, float]]]
    for _ in range(3):
        results["precli.sources"].append(run(PRECLI, path))
        results["numpy+ml_dtypes"].append(run(BASELINE, path))
    a, b = results["precli.sources"][0]["total"], results["numpy+ml_dtypes"][0]["total"]
    assert a == b, (a, b)  # same values decoded, same sums
    print(f"{path.name}: {size / 1e9:.2f} GB; memcpy {memcpy_gbs():.1f} GB/s (128 MiB copy, "
          "best of 5)")
    for name, rs in results.items():
        med = sorted(r["seconds"] for r in rs)[1]
        anon = max(r["anon"] for r in rs)
        rss = max(r["rss"] for r in rs)
        print(f"  {name:16s} median {med:6.2f} s  {size / med / 1e9:5.2f} GB/s  "
              f"peak RssAnon {anon} MB  peak RSS {rss} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
