"""llama.cpp's tensor names for Hugging Face ones, and its Q/K row permutation, as data.

``convert_hf_to_gguf.py`` renames every tensor (gguf-py's ``gguf.TensorNameMap`` is the
reference; the ``gguf`` package is not a dependency of precli, so the names it gives the
LLaMA family are written out here and tested against it) and, for LLaMA, reorders the rows
of the attention query and key projections (``LlamaModel.permute``: the rows of each head,
``[n_head, 2, rows / n_head / 2, ...]``, have axes 1 and 2 swapped; ``n_head`` is
``llama.attention.head_count`` for q and ``llama.attention.head_count_kv`` for k).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["GGUF_NAMES", "PERMUTED", "gguf_name", "permute_rows", "permuted_heads"]

#: architecture -> (whole-model names, per-block names with ``{bid}``), HF -> GGUF, without
#: the ``.weight`` / ``.bias`` suffix
GGUF_NAMES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "llama": (
        {
            "model.embed_tokens": "token_embd",
            "model.norm": "output_norm",
            "lm_head": "output",
        },
        {
            "model.layers.{bid}.self_attn.q_proj": "blk.{bid}.attn_q",
            "model.layers.{bid}.self_attn.k_proj": "blk.{bid}.attn_k",
            "model.layers.{bid}.self_attn.v_proj": "blk.{bid}.attn_v",
            "model.layers.{bid}.self_attn.o_proj": "blk.{bid}.attn_output",
            "model.layers.{bid}.mlp.gate_proj": "blk.{bid}.ffn_gate",
            "model.layers.{bid}.mlp.up_proj": "blk.{bid}.ffn_up",
            "model.layers.{bid}.mlp.down_proj": "blk.{bid}.ffn_down",
            "model.layers.{bid}.input_layernorm": "blk.{bid}.attn_norm",
            "model.layers.{bid}.post_attention_layernorm": "blk.{bid}.ffn_norm",
        },
    ),
}

#: architecture -> GGUF base names (``{bid}`` for the block) whose rows llama.cpp permutes,
#: each with the metadata key (after ``<arch>.``) of its head count
PERMUTED: dict[str, dict[str, str]] = {
    "llama": {"blk.{bid}.attn_q": "attention.head_count",
              "blk.{bid}.attn_k": "attention.head_count_kv"},
}

_SUFFIXES = (".weight", ".bias")
_BLOCK = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


def _split(name: str) -> tuple[str, str]:
    for s in _SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)], s
    return name, ""


def gguf_name(hf_name: str, arch: str) -> str | None:
    """llama.cpp's name of a Hugging Face tensor of architecture ``arch``; None when the
    architecture or the name is not in :data:`GGUF_NAMES`."""
    table = GGUF_NAMES.get(arch)
    if table is None:
        return None
    whole, blocks = table
    base, suffix = _split(hf_name)
    if not suffix:
        return None
    if base in whole:
        return whole[base] + suffix
    m = _BLOCK.match(base)
    if m is None:
        return None
    bid, rest = m.group(1), m.group(2)
    g = blocks.get("model.layers.{bid}." + rest)
    return None if g is None else g.format(bid=bid) + suffix


def permuted_heads(gguf_tensor: str, arch: str, metadata: Mapping[str, str]
                   ) -> int | None:
    """The head count llama.cpp permuted the rows of this GGUF tensor with (read from the
    GGUF metadata); None when it does not permute them. Raises ValueError when the head
    count is missing or not a positive whole number."""
    base, _ = _split(gguf_tensor)
    m = re.match(r"^blk\.(\d+)\.(.+)$", base)
    if m is None:
        return None
    key = PERMUTED.get(arch, {}).get("blk.{bid}." + m.group(2))
    if key is None:
        return None
    full = f"{arch}.{key}"
    if full == f"{arch}.attention.head_count_kv" and full not in metadata:
        full = f"{arch}.attention.head_count"  # llama.cpp: no kv count -> n_head
    text = metadata.get(full)
    if text is None or not text.isdigit() or int(text) <= 0:
        raise ValueError(f"GGUF metadata {full!r} is {text!r}, not a head count")
    return int(text)


def permute_rows(a: npt.NDArray[Any], n_head: int, *, inverse: bool = False
                 ) -> npt.NDArray[Any]:
    """``LlamaModel.permute``: ``a`` (rows first) reshaped ``[n_head, 2, rows / n_head / 2,
    ...]``, axes 1 and 2 swapped, reshaped back; ``inverse``: undo it. Raises ValueError
    when the rows are not a multiple of ``2 n_head``."""
    rows = a.shape[0]
    if rows % (2 * n_head):
        raise ValueError(f"{rows} rows are not a multiple of 2 x {n_head} heads")
    half = rows // n_head // 2
    shape = (n_head, half, 2) if inverse else (n_head, 2, half)
    out: npt.NDArray[Any] = np.ascontiguousarray(
        a.reshape(*shape, *a.shape[1:]).swapaxes(1, 2)).reshape(a.shape)
    return out
