"""Helpers shared by the benchmark scripts: environment, bytecode, machine description."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def bench_env() -> dict[str, str]:
    """The environment of every timed run: this machine sets PYTHONDONTWRITEBYTECODE=1,
    which would make each run recompile numpy & co from source; no colour forcing, no
    import profiling, no warning filters."""
    env = dict(os.environ)
    for var in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONWARNINGS",
                "FORCE_COLOR", "PYTHONIOENCODING"):
        env.pop(var, None)
    return env


def compile_all(env: dict[str, str]) -> float:
    """Write the .pyc files every timed run relies on (site-packages and precli)."""
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    t0 = time.perf_counter()
    # rc is ignored: some packages ship deliberately uncompilable test files
    subprocess.run([PY, "-m", "compileall", "-q", "-j", "0", *paths, str(ROOT / "precli")],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def cpu_model() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True,
                          check=False).stdout.strip()


def machine_lines() -> list[str]:
    """Date, machine, versions, commit and load: the header of every figure."""
    import numpy as np

    try:
        import ml_dtypes

        mld = ml_dtypes.__version__
    except ImportError:  # dev dependency
        mld = "missing"
    dirty = git("status", "--porcelain", "--", "precli")
    la = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"date {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; nproc {os.cpu_count()}; "
        f"cpu {cpu_model()}",
        f"python {platform.python_version()} ({PY}); numpy {np.__version__}; ml_dtypes {mld}",
        f"project at {git('rev-parse', '--short', 'HEAD') or '?'}"
        f"{' + uncommitted changes in precli/' if dirty else ''}; load average at start {la}",
    ]


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    i = (len(s) - 1) * q
    lo, hi = int(i), min(int(i) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)


#: Python source for a benchmarked child process: a thread that samples its own peak
#: RssAnon and VmRSS (MiB) from /proc/self/status every 20 ms into ``peak``. Needs
#: ``time`` and ``threading`` imported before it.
PEAK_SAMPLER = """
peak = {"anon": 0, "rss": 0}
def status():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("RssAnon:", "VmRSS:")):
            k, v = line.split()[:2]
            out["anon" if k == "RssAnon:" else "rss"] = int(v) // 1024
    return out
def watch():
    while True:
        s = status()
        for k in peak:
            peak[k] = max(peak[k], s[k])
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
"""
