"""Record (or check) the golden CLI corpus: every case of tests/cli_corpus.py run against
the current code, its stdout, stderr and exit status written to tests/data/cli_corpus.json.

    uv run python scripts/record_cli_corpus.py            # (re)write the record
    uv run python scripts/record_cli_corpus.py --check    # compare with it, write nothing
    uv run python scripts/record_cli_corpus.py --stats    # counts by subcommand / category

Fixtures are built afresh in a temporary directory, which is each case's working
directory (so file names in messages are relative). Cases run concurrently, one thread
per CPU, each in its own ``python -m precli`` process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import cli_corpus as cc  # noqa: E402  (tests/cli_corpus.py; never imports precli)


def stats(rec: dict[str, Any]) -> str:
    """Cases per subcommand and per category, from a record."""
    by_cmd: Counter[str] = Counter()
    cat: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    usage_msgs: set[str] = set()
    for e in rec["cases"]:
        by_cmd[e["id"].split("/", 1)[0]] += 1
        case = cc.Case(e["id"], e["argv"], env=e["env"])
        mode = cc.output_mode(case)
        modes[mode or "(none: default)"] += 1
        if e["exit"] == 0:
            cat["exit 0"] += 1
        elif e["exit"] == 1:
            cat["exit 1 (data errors, findings)"] += 1
        else:
            cat[f"exit {e['exit']} (usage errors)"] += 1
            err = cc.decode_bytes(e["stderr"]) or b""
            for line in err.decode("utf-8", "replace").splitlines():
                if line.startswith("precli: error: "):
                    usage_msgs.add(line)
        if e["stdin"] is not None:
            cat["stdin fed"] += 1
        if e["tty"]:
            cat["on a terminal"] += 1
        width = e["env"].get("COLUMNS")
        if width:
            cat[f"COLUMNS={width}"] += 1
        if e["env"].get("FORCE_COLOR"):
            cat["colour forced (FORCE_COLOR, TERM=xterm-256color)"] += 1
        if e["env"].get("NO_COLOR") or "--no-color" in e["argv"]:
            cat["colour off (NO_COLOR / --no-color)"] += 1
    out = [f"{len(rec['cases'])} cases", "by subcommand:"]
    out += [f"  {k:10} {v}" for k, v in sorted(by_cmd.items())]
    out.append("by category:")
    out += [f"  {k:50} {v}" for k, v in sorted(cat.items())]
    out.append("by --output:")
    out += [f"  {k:10} {v}" for k, v in sorted(modes.items())]
    out.append(f"distinct 'precli: error:' lines of exit-2 cases: {len(usage_msgs)}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the record instead of writing it; exit 1 on any "
                         "difference")
    ap.add_argument("--stats", action="store_true", help="print counts of the record and exit")
    ap.add_argument("--output", type=Path, default=cc.RECORD,
                    help="where to write (default: tests/data/cli_corpus.json)")
    ap.add_argument("--only", metavar="PREFIX", help="record only cases whose id starts so "
                    "(with --check: check only those)")
    ap.add_argument("-j", "--jobs", type=int, default=None,
                    help="parallel cases (default: os.cpu_count())")
    args = ap.parse_args()
    if args.stats:
        print(stats(cc.load_record(args.output)))
        return 0
    items = cc.cases()
    if args.only:
        items = [c for c in items if c.id.startswith(args.only)]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="precli-corpus-") as tmp:
        d = Path(tmp)
        cc.build_fixtures(d)
        t1 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty():
                print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

        results = cc.run_cases(items, d, args.jobs, progress)
    t2 = time.perf_counter()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{len(items)} cases: fixtures {t1 - t0:.1f} s, runs {t2 - t1:.1f} s",
          file=sys.stderr)
    if args.check:
        problems = cc.compare_to_record(items, results, cc.load_record(args.output)) \
            if not args.only else [
                p for p in cc.compare_to_record(items, results, cc.load_record(args.output))
                if p.split(":", 1)[0].startswith(args.only)]
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{len(problems)} case(s) differ from {args.output}", file=sys.stderr)
        return 1 if problems else 0
    if args.only:
        print("--only without --check: recording a subset is refused (it would drop the "
              "other cases from the record)", file=sys.stderr)
        return 2
    text = cc.dump_record(cc.make_record(items, results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()):,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
