"""Quantize a safetensors checkpoint into a shipped layout, for `precli check` / `diff`
examples and benchmarks.

Layouts (the published recipes; precli's readers are not used to write):

* ``fp8`` -- DeepSeek-V3 FP8 blocks: every 2-D ``*.weight`` becomes ``weight`` (F8_E4M3)
  + ``weight_scale_inv`` (F32, one per 128x128 block, amax / 448), like
  deepseek-ai/DeepSeek-V3 ``inference/fp8_cast_bf16.py`` reverses.
* ``nvfp4`` -- NVIDIA ModelOpt NVFP4: every 2-D ``*.weight`` with a multiple of 16 columns
  becomes ``weight`` (U8, two e2m1 per byte, low nibble first) + ``weight_scale``
  (F8_E4M3, per 16) + ``weight_scale_2`` (F32, amax / 2688).

Other tensors are copied as stored. Element casts go through ml_dtypes (a dev dependency)
from float32 quotients, as the reference kernels compute them. ``--corrupt`` damages the
first quantized tensor (fp8: a NaN weight, and one block requantized with a scale twice
too large; nvfp4: a NaN block-scale byte) so `precli check` has something to find.
Tensors are processed one at a time (memory: a few copies of the largest tensor).

    uv run python benchmarks/gen_quantized.py IN.safetensors OUT.safetensors --layout fp8
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from precli.sources import open_checkpoint  # noqa: E402  (reading the bf16 input only)


def _e4m3(v: np.ndarray) -> np.ndarray:
    return np.clip(v.astype(np.float32), -448, 448).astype(ml_dtypes.float8_e4m3fn)


def fp8_blocks(w: np.ndarray, b: int = 128) -> tuple[np.ndarray, np.ndarray]:
    m, n = w.shape
    sm, sn = -(-m // b), -(-n // b)
    pad = np.zeros((sm * b, sn * b), np.float32)
    pad[:m, :n] = w
    blk = pad.reshape(sm, b, sn, b)
    amax = np.abs(blk).max(axis=(1, 3))
    s = np.where(amax > 0, amax / np.float32(448), np.float32(1)).astype(np.float32)
    q = _e4m3(blk / s[:, None, :, None]).reshape(sm * b, sn * b)[:m, :n]
    return np.ascontiguousarray(q).view(np.uint8), s


def nvfp4(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.float32]:
    m, n = w.shape
    amax = float(np.abs(w).max())
    s2 = np.float32(amax / 2688) if amax else np.float32(1)
    blk = w.reshape(m, n // 16, 16).astype(np.float32)
    bamax = np.abs(blk).max(axis=-1)
    s = _e4m3(bamax / np.float32(6) / s2)
    d = s.astype(np.float32) * s2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(d[..., None] > 0, blk / d[..., None], 0)
    c = np.clip(t, -6, 6).astype(ml_dtypes.float4_e2m1fn).view(np.uint8).reshape(m, n) & 15
    packed = (c[:, 0::2] | (c[:, 1::2] << 4)).astype(np.uint8)
    return packed, s.view(np.uint8), s2


def convert(src: str, dst: str, layout: str, corrupt: bool = False) -> None:
    ck = open_checkpoint(src, raw=True)
    out: list[tuple[str, str, list[int], Any]] = []
    done = 0
    for t in ck.tensors():
        quantize = len(t.shape) == 2 and t.name.endswith(".weight") and t.skip is None and (
            layout == "fp8" or t.shape[1] % 16 == 0)
        if not quantize:
            raw = np.frombuffer(_raw(t), np.uint8)
            out.append((t.name, t.dtype, list(t.shape), raw))
            continue
        w = np.asarray(t.read(), np.float32).reshape(t.shape)
        if layout == "fp8":
            q, s = fp8_blocks(w)
            if corrupt and done == 0:
                q = q.copy()
                q.reshape(-1)[7] = 0x7F  # a NaN weight
                # block (0, 0) requantized with a scale twice too large: its codes halved
                b0 = q[:128, :128].view(ml_dtypes.float8_e4m3fn).astype(np.float32)
                q[:128, :128] = _e4m3(b0 / 2).view(np.uint8)
                s = s.copy()
                s.reshape(-1)[0] *= np.float32(2)
            out += [(t.name, "F8_E4M3", list(t.shape), q),
                    (t.name + "_scale_inv", "F32", list(s.shape), s.astype("<f4"))]
        else:
            p, s, s2 = nvfp4(w)
            if corrupt and done == 0:
                s = s.copy()
                s.reshape(-1)[3] = 0x7F  # a NaN block-scale byte
            base = t.name
            out += [(base, "U8", list(p.shape), p),
                    (base + "_scale", "F8_E4M3", list(s.shape), s),
                    (base + "_scale_2", "F32", [], np.array(s2, "<f4"))]
        done += 1
    _write(dst, out, ck.metadata)


def _raw(t: Any) -> bytes:
    from precli.sources.read import mapped

    r = t._reader
    return bytes(mapped(t.path)[r.offset: r.offset + t.nbytes])


def _write(path: str, entries: list[tuple[str, str, list[int], Any]],
           meta: dict[str, str]) -> None:
    header: dict[str, Any] = {"__metadata__": meta} if meta else {}
    off = 0
    for name, dtype, shape, a in entries:
        n = np.asarray(a).nbytes
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, _, a in entries:
            f.write(np.ascontiguousarray(a).tobytes())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--layout", choices=("fp8", "nvfp4"), default="fp8")
    ap.add_argument("--corrupt", action="store_true",
                    help="damage the first quantized tensor (see the module docstring)")
    a = ap.parse_args()
    convert(a.src, a.dst, a.layout, a.corrupt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
