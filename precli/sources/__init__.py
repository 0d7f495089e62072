"""Checkpoint readers: safetensors (single and sharded), GGUF, ONNX, npz and npy.

Every kind yields the same thing, a :class:`Tensor`: its name as stored, the stored dtype
text, the shape in numpy (row-major) order, the precli format of its elements, a reason
when it cannot be cast (integers, bool masks, quantized GGUF blocks), and a lazy exact
``read(start, stop)`` over the memory-mapped file.

A reader only reads: it knows bytes, headers, offsets and packing, never statistics.
Headers, offsets, shapes and sizes are validated here, where they are read; a problem is
one :class:`CheckpointError` naming the file and, when there is one, the tensor.

Nothing here imports numpy at module load: ``open_checkpoint`` and the readers import it
when they run, so commands that read no checkpoint pay nothing for this package.
"""

from __future__ import annotations

import os
import stat

from precli.errors import UsageError
from precli.sources.base import KINDS, PICKLE_HINT, Checkpoint, CheckpointError, Tensor

__all__ = [
    "KINDS",
    "Checkpoint",
    "CheckpointError",
    "Tensor",
    "detect",
    "open_checkpoint",
]

def detect(path: str) -> str:
    """The kind of checkpoint at ``path``, decided by content (the extension only sharpens
    the error for content nothing recognises). Raises CheckpointError for pickles and
    unknown content, UsageError for a path that does not exist."""
    if os.path.isdir(path):
        return "safetensors-sharded"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block open() forever
            raise CheckpointError(path, "is not a regular file (a FIFO, device or socket): "
                                        "checkpoints are memory-mapped files")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory") from None
    except OSError:
        pass  # open() below says what is wrong
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot open ({e.strerror or e})") from None
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"  # a zip; npz.py refuses a PyTorch zip (data.pkl) by its members
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise CheckpointError(path, f"is a pickle (protocol {head[1]}), e.g. a PyTorch "
                              f"checkpoint: {PICKLE_HINT}")
    stripped = head.lstrip()
    if stripped.startswith(b"{") and (ext == ".json" or b"weight_map" in head):
        return "safetensors-sharded"  # an index file: JSON with a weight_map
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    from precli.sources.onnx import looks_like_onnx

    if looks_like_onnx(path, size):
        return "onnx"
    # nothing matched: let the extension choose the most useful error
    if ext == ".safetensors":
        return "safetensors"  # its reader names what is wrong with the header
    if ext == ".gguf":
        raise CheckpointError(path, f"does not start with the GGUF magic (found "
                              f"{_show(head[:4])})")
    if ext == ".npy":
        raise CheckpointError(path, f"does not start with the .npy magic (found "
                              f"{_show(head[:6])})")
    if ext == ".onnx":
        return "onnx"  # its reader names the first field that does not parse
    if ext in (".pt", ".pth", ".bin", ".pkl", ".ckpt"):
        raise CheckpointError(path, f"is not a checkpoint precli reads (starts with "
                              f"{_show(head[:8])}); if it is a PyTorch pickle: {PICKLE_HINT}")
    if size == 0:
        raise CheckpointError(path, "is empty")
    raise CheckpointError(path, f"is not a checkpoint precli reads (starts with "
                          f"{_show(head[:8])}); it reads safetensors, GGUF, ONNX, .npz and "
                          ".npy files, and sharded safetensors directories")


def _show(b: bytes) -> str:
    text = b.decode("latin-1")
    if text.isprintable() and text.strip():
        return repr(text)
    return " ".join(f"{x:02x}" for x in b) or "no bytes"


def open_checkpoint(path: str, kind: str | None = None, *, raw: bool = False) -> Checkpoint:
    """Open any supported checkpoint; ``kind`` (one of KINDS) skips detection.

    The raw tensors of a quantized layout (codes, scales, zero points) are grouped into one
    logical tensor each unless ``raw`` (safetensors: :mod:`precli.sources.quantized`; ONNX:
    :mod:`precli.sources.onnx_quant`, from the graph).
    """
    ck = _open(path, kind, raw)
    if raw or ck.kind not in ("safetensors", "safetensors-sharded"):
        return ck
    from precli.sources.quantized import group_checkpoint

    return group_checkpoint(ck)


def _open(path: str, kind: str | None, raw: bool = False) -> Checkpoint:
    path = os.fspath(path)
    if kind is None:
        kind = detect(path)
    elif kind not in KINDS:
        raise UsageError(f"unknown checkpoint kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file or directory")
    if kind == "safetensors":
        from precli.sources import safetensors

        return safetensors.open_file(path)
    if kind == "safetensors-sharded":
        from precli.sources import safetensors

        return safetensors.open_sharded(path)
    if kind == "gguf":
        from precli.sources.gguf import open_file as open_gguf

        return open_gguf(path)
    if kind == "onnx":
        from precli.sources import onnx

        return onnx.open_file(path, quantized=not raw)
    from precli.sources import npy

    if kind == "npz":
        return npy.open_npz(path)
    return npy.open_npy(path)
