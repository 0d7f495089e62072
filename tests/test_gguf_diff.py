"""precli diff of a Hugging Face LLaMA checkpoint against the GGUF llama.cpp makes of it:
tensors pair across llama.cpp's renaming (checked against gguf-py's TensorNameMap) and the
q / k rows are compared after llama.cpp's head permutation, so an fp16 GGUF is within
1/2 ulp everywhere; without the permutation (or with wrong head counts) it is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

from precli.model.diff import diff_checkpoints
from precli.model.ggufnames import gguf_name, permute_rows

LAYERS, HIDDEN, HEADS, KV_HEADS, INTER, VOCAB = 2, 64, 4, 2, 128, 96
HEAD_DIM = HIDDEN // HEADS


def hf_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20)
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN), "model.norm.weight": (HIDDEN,),
              "lm_head.weight": (VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes.update({
            p + "self_attn.q_proj.weight": (HEADS * HEAD_DIM, HIDDEN),
            p + "self_attn.k_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
            p + "self_attn.v_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
            p + "self_attn.o_proj.weight": (HIDDEN, HEADS * HEAD_DIM),
            p + "mlp.gate_proj.weight": (INTER, HIDDEN),
            p + "mlp.up_proj.weight": (INTER, HIDDEN),
            p + "mlp.down_proj.weight": (HIDDEN, INTER),
            p + "input_layernorm.weight": (HIDDEN,),
            p + "post_attention_layernorm.weight": (HIDDEN,),
        })
    return {k: (rng.standard_normal(s) * 0.05).astype(np.float32) for k, s in shapes.items()}


def llama_permute(w: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute, as written there."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def write_gguf(path: Path, tensors: dict[str, np.ndarray], *, permute: bool = True,
               heads: tuple[int, int] = (HEADS, KV_HEADS)) -> dict[str, str]:
    """As convert_hf_to_gguf.py writes a LLaMA: renamed, q / k permuted, stored F16.
    Returns GGUF name -> HF name."""
    tmap = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, LAYERS)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(LAYERS)
    w.add_head_count(heads[0])
    w.add_head_count_kv(heads[1])
    names = {}
    for name, a in tensors.items():
        if permute and name.endswith("q_proj.weight"):
            a = llama_permute(a, HEADS, HEADS)
        elif permute and name.endswith("k_proj.weight"):
            a = llama_permute(a, HEADS, KV_HEADS)
        g = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert g is not None, name
        names[g] = name
        w.add_tensor(g, a.astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return names


def sqnr(x: np.ndarray, q: np.ndarray) -> float:
    x = x.astype(np.float64)
    e = x - q.astype(np.float64)
    return float(10 * np.log10(np.sum(x * x) / np.sum(e * e)))


def test_names_are_gguf_pys() -> None:
    tmap = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, LAYERS)
    for name in hf_tensors():
        for suffix in (".weight", ".bias"):
            n = name.removesuffix(".weight") + suffix
            assert gguf_name(n, "llama") == tmap.get_name(n, try_suffixes=(".weight", ".bias"))
    assert gguf_name("model.layers.0.self_attn.q_proj.weight", "gpt2") is None
    assert gguf_name("model.rotary_emb.inv_freq", "llama") is None


def test_permute_rows_is_llamas_and_inverts() -> None:
    w = np.arange(64 * 3, dtype=np.float32).reshape(64, 3)
    for n in (1, 2, 4, 8):
        p = permute_rows(w, n)
        assert np.array_equal(p, llama_permute(w, n, n))
        assert np.array_equal(permute_rows(p, n, inverse=True), w)
    with pytest.raises(ValueError):
        permute_rows(w, 3)


def check_records(recs: list[dict[str, object]], names: dict[str, str],
                  hf: dict[str, np.ndarray]) -> None:
    summary = recs[-1]
    assert summary["tensor"] is None and summary["only_original"] == []
    assert summary["tensors"] == len(names) == len(recs) - 1
    for r in recs[:-1]:
        g = str(r["tensor"])
        assert r["paired"] == "gguf-name" and r["original"] == names[g], r
        assert r["element_format"] == "fp16" and r["within_half_ulp"] == 1.0, r
        x = hf[names[g]]
        assert r["sqnr_db"] == pytest.approx(sqnr(x, x.astype(np.float16)), rel=1e-12), g


def test_diff_pairs_and_unpermutes(tmp_path: Path) -> None:
    hf = hf_tensors()
    o, q = tmp_path / "model.safetensors", tmp_path / "model.gguf"
    save_file(hf, str(o))
    names = write_gguf(q, hf)
    rep = diff_checkpoints(str(o), str(q))
    assert rep.errors == []
    check_records(rep.records(), names, hf)
    p = subprocess.run([sys.executable, "-m", "precli", "diff", str(o), str(q), "-o", "json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    check_records(json.loads(p.stdout), names, hf)
    # jobs > 1 sends the permutation to the workers
    assert rep.records() == diff_checkpoints(str(o), str(q), jobs=2).records()


def test_gguf_as_the_original(tmp_path: Path) -> None:
    """The GGUF on the left: its q / k rows are un-permuted to meet the HF names."""
    hf = hf_tensors()
    g = tmp_path / "model.gguf"
    names = write_gguf(g, hf)
    h = tmp_path / "model.safetensors"
    save_file({k: v.astype(np.float16) for k, v in hf.items()}, str(h))
    rep = diff_checkpoints(str(g), str(h))
    recs = rep.records()
    assert rep.errors == [] and recs[-1]["only_original"] == []
    assert len(recs) - 1 == len(names)
    inv = {v: k for k, v in names.items()}
    for r in recs[:-1]:
        assert r["paired"] == "gguf-name" and r["original"] == inv[str(r["tensor"])]
        assert r["exact_fraction"] == 1.0, r


@pytest.mark.parametrize("how", ["not permuted", "wrong heads"])
def test_without_the_permutation_qk_are_off(tmp_path: Path, how: str) -> None:
    hf = hf_tensors()
    o, q = tmp_path / "model.safetensors", tmp_path / "model.gguf"
    save_file(hf, str(o))
    if how == "not permuted":
        write_gguf(q, hf, permute=False)
    else:  # the file is permuted right, its metadata claims other head counts
        write_gguf(q, hf, heads=(HEADS // 2, KV_HEADS // 2))
    recs = diff_checkpoints(str(o), str(q)).records()[:-1]
    for r in recs:
        qk = str(r["tensor"]).endswith(("attn_q.weight", "attn_k.weight"))
        assert r["paired"] == "gguf-name"
        if qk:
            assert r["within_half_ulp"] < 0.75, r  # rows of a wrong order: most off
        else:
            assert r["within_half_ulp"] == 1.0, r


def test_missing_head_count_is_a_reason(tmp_path: Path) -> None:
    hf = {"model.layers.0.self_attn.q_proj.weight": hf_tensors()[
        "model.layers.0.self_attn.q_proj.weight"]}
    o, q = tmp_path / "model.safetensors", tmp_path / "model.gguf"
    save_file(hf, str(o))
    w = gguf.GGUFWriter(str(q), "llama")
    w.add_tensor("blk.0.attn_q.weight", llama_permute(
        hf["model.layers.0.self_attn.q_proj.weight"], HEADS, HEADS).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    rec = diff_checkpoints(str(o), str(q)).records()[0]
    assert rec["paired"] is None and "llama.attention.head_count" in str(rec["skip"])


def test_the_table_says_how_tensors_were_paired(tmp_path: Path) -> None:
    hf = hf_tensors()
    o, q = tmp_path / "model.safetensors", tmp_path / "model.gguf"
    save_file(hf, str(o))
    names = write_gguf(q, hf)
    p = subprocess.run([sys.executable, "-m", "precli", "diff", str(o), str(q), "-o", "table"],
                       capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "120", "NO_COLOR": "1"})
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert f"{len(names)} tensor(s) paired through llama.cpp's tensor names" in text
    assert "token_embd.weight ↔ model.embed_tokens.weight" in text
