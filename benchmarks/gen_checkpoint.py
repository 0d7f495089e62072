"""Generate a large, realistic bf16 safetensors checkpoint for the checkpoint benchmarks.

The default layout follows a ~1.5B-parameter decoder (Qwen2-1.5B's shapes: vocab 151,936,
hidden 1,536, 28 layers, 12 query heads and 2 key/value heads of 128, MLP 8,960, q/k/v
biases, RMSNorm weights): 338 tensors, 1.54 G parameters, 3.09 GB as BF16.

Magnitudes are those of trained weights: matrices and biases normal(0, 0.02) with a few
outliers (about one element per million at 10-50x the spread, and in every down_proj two
input channels scaled 8x, the "massive activation" columns); norm weights 1 + normal(0,
0.05). Values are rounded to BF16 to nearest-even.

Deterministic: tensor i draws from ``numpy.random.default_rng([seed, i])``, always in the
same pieces, so a given seed gives the same bytes on any machine. Written in streaming
fashion: the header first (the offsets follow from the shapes), then each tensor a piece of
at most 1 Mi elements at a time, so memory stays under ~100 MB whatever the size.

    uv run python benchmarks/gen_checkpoint.py              # benchmarks/out/ckpt-bf16.safetensors
    uv run python benchmarks/gen_checkpoint.py --quick PATH # ~1 MB, same structure (tests)
    uv run python benchmarks/gen_checkpoint.py --layers 8   # a smaller big one
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "out" / "ckpt-bf16.safetensors"
PIECE = 1 << 20  # elements per generated piece


@dataclass(frozen=True)
class Layout:
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    mlp: int


FULL = Layout(vocab=151_936, hidden=1536, layers=28, heads=12, kv_heads=2, head_dim=128,
              mlp=8960)
QUICK = Layout(vocab=1024, hidden=128, layers=2, heads=4, kv_heads=2, head_dim=32, mlp=352)


def tensors(lay: Layout) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, kind) in file order; kind is "weight", "bias", "norm" or "down"."""
    h, q, kv = lay.hidden, lay.heads * lay.head_dim, lay.kv_heads * lay.head_dim
    out: list[tuple[str, tuple[int, ...], str]] = [
        ("model.embed_tokens.weight", (lay.vocab, h), "weight")]
    for i in range(lay.layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (h,), "norm"),
            (p + "self_attn.q_proj.weight", (q, h), "weight"),
            (p + "self_attn.q_proj.bias", (q,), "bias"),
            (p + "self_attn.k_proj.weight", (kv, h), "weight"),
            (p + "self_attn.k_proj.bias", (kv,), "bias"),
            (p + "self_attn.v_proj.weight", (kv, h), "weight"),
            (p + "self_attn.v_proj.bias", (kv,), "bias"),
            (p + "self_attn.o_proj.weight", (h, q), "weight"),
            (p + "post_attention_layernorm.weight", (h,), "norm"),
            (p + "mlp.gate_proj.weight", (lay.mlp, h), "weight"),
            (p + "mlp.up_proj.weight", (lay.mlp, h), "weight"),
            (p + "mlp.down_proj.weight", (h, lay.mlp), "down"),
        ]
    out.append(("model.norm.weight", (h,), "norm"))
    return out


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bit patterns, round to nearest even (no NaN in this data)."""
    u = x.view(np.uint32)
    u = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    return (u >> np.uint32(16)).astype("<u2")


def pieces(index: int, shape: tuple[int, ...], kind: str, seed: int):  # noqa: ANN201
    """The tensor's values, PIECE elements at a time, as little-endian bf16 bytes."""
    rng = np.random.default_rng([seed, index])
    n = int(np.prod(shape))
    cols = shape[-1]
    hot = rng.choice(cols, size=2, replace=False) if kind == "down" else None
    for start in range(0, n, PIECE):
        m = min(PIECE, n - start)
        x = rng.standard_normal(m, dtype=np.float32)
        if kind == "norm":
            x = np.float32(1.0) + np.float32(0.05) * x
        else:
            x *= np.float32(0.02)
            k = rng.binomial(m, 1e-6)
            if k:
                where = rng.integers(0, m, k)
                x[where] = (rng.uniform(0.2, 1.0, k) * rng.choice([-1, 1], k)).astype(
                    np.float32)
            if hot is not None:
                col = (np.arange(start, start + m) % cols)
                x[np.isin(col, hot)] *= np.float32(8)
        yield to_bf16(x).tobytes()


def write(path: Path, lay: Layout, seed: int) -> tuple[int, int, int]:
    entries = tensors(lay)
    header: dict[str, object] = {"__metadata__": {
        "format": "pt", "generator": "precli benchmarks/gen_checkpoint.py", "seed": str(seed)}}
    off = 0
    for name, shape, _ in entries:
        nbytes = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + nbytes]}
        off += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    params = 0
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for i, (_, shape, kind) in enumerate(entries):
            params += int(np.prod(shape))
            for b in pieces(i, shape, kind, seed):
                f.write(b)
    os.replace(tmp, path)
    return len(entries), params, path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--quick", action="store_true", help="a ~1 MB checkpoint of the same "
                    "structure (for tests)")
    ap.add_argument("--layers", type=int, default=None, help="number of decoder layers")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    lay = QUICK if args.quick else FULL
    if args.layers is not None:
        lay = Layout(**{**lay.__dict__, "layers": args.layers})
    t0 = time.perf_counter()
    n, params, size = write(args.path, lay, args.seed)
    dt = time.perf_counter() - t0
    print(f"{args.path}: {n} tensors, {params:,} parameters, {size:,} bytes "
          f"({size / 1e9:.2f} GB) in {dt:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
