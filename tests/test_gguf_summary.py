"""compare's summary of a GGUF: general.architecture and general.file_type (named as
llama.cpp names it) in the head line, and the per-type table (tensors, parameters, bytes,
bits per weight). Files come from the gguf package's GGUFWriter; the expected figures are
computed here from numpy sizes and the package's own GGML_QUANT_SIZES."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from precli.cli.views import human_bytes
from precli.model.analyze import CHECKPOINT_KEYS, analyze
from precli.sources.gguf import FILE_TYPE_GUESSED, FILE_TYPES, file_type_name

gguf = pytest.importorskip("gguf", reason="the gguf package (dev dependency) writes GGUF")

sys.path.insert(0, str(Path(__file__).parent))
from test_sources_gguf import F32, gguf_file  # noqa: E402

Q = gguf.GGMLQuantizationType


def test_file_type_names_are_gguf_llama_file_type() -> None:
    want = {m.value: m.name.removeprefix("ALL_").removeprefix("MOSTLY_")
            for m in gguf.LlamaFileType if m is not gguf.LlamaFileType.GUESSED}
    assert FILE_TYPES == want
    assert FILE_TYPE_GUESSED == gguf.LlamaFileType.GUESSED.value
    assert file_type_name(str(gguf.LlamaFileType.MOSTLY_Q4_K_M.value)) == "Q4_K_M"
    assert file_type_name("0") == "F32" and file_type_name("1") == "F16"
    assert file_type_name(str(15 | FILE_TYPE_GUESSED)) == "Q4_K_M (guessed)"
    assert file_type_name("99") == "file type 99"
    assert file_type_name("1024") == "file type 1024"


def run(cwd: Path, *args: str, columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "precli", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A qwen2 GGUF that says it is Q4_K_M, holding F32, F16, Q8_0 and Q4_0 tensors (and a
    1-D F32 norm, which compare sets aside but the type table counts); with the per-type
    rows expected, most bytes first."""
    d = tmp_path_factory.mktemp("gguf")
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(str(d / "m.gguf"), "qwen2")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    stored: list[tuple[str, int, int]] = []  # (type, params, bytes)

    def add(name: str, a: np.ndarray, qtype: Any = None) -> None:
        if qtype is None:
            w.add_tensor(name, a)
            stored.append((Q.F32.name if a.dtype == np.float32 else Q.F16.name, a.size,
                           a.nbytes))
            return
        q = gguf.quants.quantize(a, qtype)
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        assert q.nbytes == a.size // block * size
        stored.append((qtype.name, a.size, a.size // block * size))

    f = np.float32
    add("token_embd.weight", (rng.standard_normal((64, 64)) * 0.05).astype(f))
    add("blk.0.attn_norm.weight", (1 + 0.1 * rng.standard_normal(64)).astype(f))
    add("blk.0.attn_q.weight", (rng.standard_normal((32, 64)) * 0.05).astype(np.float16))
    add("blk.0.ffn_down.weight", (rng.standard_normal((32, 64)) * 0.05).astype(f), Q.Q8_0)
    add("blk.0.ffn_up.weight", (rng.standard_normal((16, 64)) * 0.05).astype(f), Q.Q8_0)
    add("blk.0.ffn_gate.weight", (rng.standard_normal((16, 64)) * 0.05).astype(f), Q.Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    rows: dict[str, list[int]] = {}
    for t, p, b in stored:
        r = rows.setdefault(t, [0, 0, 0])
        r[0] += 1
        r[1] += p
        r[2] += b
    want = [{"type": t, "tensors": n, "params": p, "bytes": b, "bits_per_weight": 8 * b / p}
            for t, (n, p, b) in sorted(rows.items(), key=lambda kv: -kv[1][2])]
    assert [r["type"] for r in want] == ["F32", "F16", "Q8_0", "Q4_0"]
    assert want[2]["bits_per_weight"] == 8.5 and want[3]["bits_per_weight"] == 4.5
    return d, want


def test_report_reads_architecture_file_type_and_types(
        model: tuple[Path, list[dict[str, Any]]]) -> None:
    d, want = model
    rep = analyze(str(d / "m.gguf"), [])
    assert rep.architecture == "qwen2"
    assert rep.file_type == "Q4_K_M"
    assert rep.type_table() == want


@pytest.mark.parametrize("columns", [60, 120])
def test_table_view_head_line_and_type_rows(model: tuple[Path, list[dict[str, Any]]],
                                            columns: int) -> None:
    d, want = model
    p = run(d, "compare", "m.gguf", "-F", "bf16,mxfp4", "-o", "table", columns=columns)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert all(len(x) <= columns for x in lines)
    assert lines[0].strip().startswith("m.gguf (gguf, qwen2, Q4_K_M): 5 of 6 tensors")
    assert "None" not in p.stdout
    at = next(i for i, x in enumerate(lines) if x.strip() == "stored types")
    assert lines[at + 2].split() == ["type", "tensors", "parameters", "bytes", "bits/weight"]
    rows = [x.split() for x in lines[at + 4: at + 4 + len(want)]]
    assert rows == [[r["type"], f"{r['tensors']:,}", f"{r['params']:,}",
                     *human_bytes(r["bytes"]).split(), f"{r['bits_per_weight']:.4g}"]
                    for r in want]
    assert not lines[at + 4 + len(want)].strip()  # nothing more in the table


def test_json_records_carry_the_facts_and_keep_their_keys(
        model: tuple[Path, list[dict[str, Any]]]) -> None:
    d, want = model
    p = run(d, "compare", "m.gguf", "-F", "bf16,mxfp4", "-o", "ndjson")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    summary = [r for r in recs if r["tensor"] is None]
    assert len(summary) == 2
    for r in recs:
        extra = ["architecture", "file_type", "types"] if r["tensor"] is None else []
        assert list(r) == [*CHECKPOINT_KEYS, *extra]
    for r in summary:
        assert r["architecture"] == "qwen2" and r["file_type"] == "Q4_K_M"
        assert r["types"] == want
    p = run(d, "compare", "m.gguf", "-F", "bf16", "-o", "csv")
    assert next(csv.reader(io.StringIO(p.stdout))) == list(CHECKPOINT_KEYS)


def test_a_gguf_without_the_keys_shows_neither(tmp_path: Path) -> None:
    a = np.arange(64 * 32, dtype=np.float32).reshape(64, 32) / 1000
    (tmp_path / "m.gguf").write_bytes(gguf_file([("w", [64, 32], F32, a.tobytes())]))
    rep = analyze(str(tmp_path / "m.gguf"), [])
    assert rep.architecture is None and rep.file_type is None
    p = run(tmp_path, "compare", "m.gguf", "-F", "bf16", "-o", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].strip().startswith("m.gguf (gguf): 1 of 1 tensors")
    assert "None" not in p.stdout and "null" not in p.stdout
    assert re.search(r"^ F32 +1 +2,048 +8\.19 kB +32 *$", p.stdout, re.M)
    recs = [json.loads(x) for x in
            run(tmp_path, "compare", "m.gguf", "-F", "bf16", "-o", "ndjson").stdout.splitlines()]
    assert recs[-1]["architecture"] is None and recs[-1]["file_type"] is None


def test_other_kinds_show_no_type_table(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"w": np.ones((64, 32), np.float32)}, str(tmp_path / "m.safetensors"))
    p = run(tmp_path, "compare", "m.safetensors", "-F", "bf16", "-o", "table")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].strip().startswith("m.safetensors (safetensors): ")
    assert "stored types" not in p.stdout
    recs = [json.loads(x) for x in
            run(tmp_path, "compare", "m.safetensors", "-F", "bf16", "-o", "ndjson"
                ).stdout.splitlines()]
    assert list(recs[-1]) == list(CHECKPOINT_KEYS)
