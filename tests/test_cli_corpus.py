"""The golden CLI corpus, replayed: every case of tests/cli_corpus.py must print exactly what
tests/data/cli_corpus.json recorded (stdout, stderr and exit status, byte for byte).

The record was made with scripts/record_cli_corpus.py; when an output changes on purpose,
re-record it there and review the diff of the JSON. A failure lists every case that
differs, each with a short unified diff.
"""

from __future__ import annotations

import time
from pathlib import Path

import cli_corpus as cc  # tests/cli_corpus.py (pytest puts tests/ on sys.path)
import pytest


def test_every_case_matches_the_record(tmp_path: Path) -> None:
    if not cc.RECORD.exists():
        pytest.fail(f"{cc.RECORD} is missing: run scripts/record_cli_corpus.py")
    rec = cc.load_record()
    assert rec["format"] == cc.FORMAT_VERSION
    t0 = time.perf_counter()
    cc.build_fixtures(tmp_path)
    items = cc.cases()
    results = cc.run_cases(items, tmp_path)
    problems = cc.compare_to_record(items, results, rec)
    elapsed = time.perf_counter() - t0
    if problems:
        pytest.fail(f"{len(problems)} of {len(items)} CLI corpus case(s) differ from "
                    f"{cc.RECORD.name} ({elapsed:.0f} s):\n\n" + "\n\n".join(problems),
                    pytrace=False)
