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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from precli.errors import PrecliError, UsageError

if TYPE_CHECKING:
    import numpy.typing as npt

    from precli.sources._read import Reader

__all__ = [
    "KINDS",
    "Checkpoint",
    "CheckpointError",
    "Tensor",
    "detect",
    "open_checkpoint",
]

KINDS = ("safetensors", "safetensors-sharded", "gguf", "onnx", "npz", "npy")


class CheckpointError(PrecliError):
    """A file that is not a checkpoint precli can read, or is damaged (exit 1).

    The message names the file and, when there is one, the tensor:
    ``model.safetensors: tensor 'w.q': offsets [10, 20) run past the data (15 bytes)``.
    """

    def __init__(self, path: str, message: str, tensor: str | None = None) -> None:
        self.path = path
        self.tensor = tensor
        self.reason = message
        where = f"{path}: tensor {tensor!r}: " if tensor is not None else f"{path}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Tensor:
    """One named tensor of a checkpoint; its data stays on disk until :meth:`read`."""

    name: str  # as stored
    dtype: str  # as stored: "BF16", "F8_E4M3", GGUF "Q4_K", ONNX "FLOAT16", npy "float32"
    shape: tuple[int, ...]  # numpy / PyTorch order
    format: str | None  # precli format name of the elements, None if not a number format
    skip: str | None  # why compare cannot cast it, or None
    nbytes: int  # bytes as stored
    path: str  # the file the data lives in
    _reader: Reader | None = field(default=None, repr=False, compare=False)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def read(self, start: int = 0, stop: int | None = None) -> npt.NDArray[Any]:
        """Flat elements [start, stop) in row-major order, decoded exactly.

        float16 / float32 / float64 data come back as a read-only view of the memory map
        when the layout allows; BF16, FP8, FP6, FP4 and E8M0 are decoded to float32 (every
        value of theirs is a float32 number) through precli's own codec. Integer and bool
        tensors come back in their own numpy dtype. Only the bytes of that range are
        touched. Raises :class:`CheckpointError` for tensors whose elements precli cannot
        decode (quantized GGUF blocks, complex numbers).
        """
        n = self.numel
        stop = n if stop is None else stop
        if not 0 <= start <= stop <= n:
            raise ValueError(f"range [{start}, {stop}) is outside tensor {self.name!r} "
                             f"of {n} elements")
        if self._reader is None:
            raise CheckpointError(self.path, f"cannot read {self.dtype} elements"
                                  + (f" ({self.skip})" if self.skip else ""), self.name)
        return self._reader.read(start, stop)

    def chunks(self, size: int = 1 << 20) -> Iterator[npt.NDArray[Any]]:
        """The whole tensor, ``size`` elements at a time (the last piece may be shorter)."""
        n = self.numel
        for s in range(0, n, size):
            yield self.read(s, min(s + size, n))


@dataclass
class Checkpoint:
    """An opened checkpoint: header parsed and validated, data memory-mapped lazily."""

    path: str
    kind: str  # one of KINDS
    metadata: dict[str, str]
    _tensors: list[Tensor]
    errors: list[CheckpointError] = field(default_factory=list)
    # problems in one shard / one tensor's external file: the healthy tensors are still
    # listed, and these name the bad ones (a caller reports them and exits 1)

    @property
    def stored_bytes(self) -> int:
        return sum(t.nbytes for t in self._tensors)

    def tensors(self) -> Iterator[Tensor]:
        """In file order (sharded: the index's order)."""
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)


# ------------------------------------------------------------------------ detection

_PICKLE_HINT = ("precli never unpickles; convert it to safetensors (e.g. in Python: "
                "safetensors.torch.save_file(torch.load(path, weights_only=True), "
                "'model.safetensors'))")


def detect(path: str) -> str:
    """The kind of checkpoint at ``path``, decided by content (the extension only sharpens
    the error for content nothing recognises). Raises CheckpointError for pickles and
    unknown content, UsageError for a path that does not exist."""
    if os.path.isdir(path):
        return "safetensors-sharded"
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
                              f"checkpoint: {_PICKLE_HINT}")
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
                              f"{_show(head[:8])}); if it is a PyTorch pickle: {_PICKLE_HINT}")
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

    The raw tensors of a quantized safetensors layout (codes, scales, zero points) are
    grouped into one logical tensor each (:mod:`precli.sources.quantized`) unless ``raw``.
    """
    ck = _open(path, kind)
    if raw or ck.kind not in ("safetensors", "safetensors-sharded"):
        return ck
    from precli.sources.quantized import group_checkpoint

    return group_checkpoint(ck)


def _open(path: str, kind: str | None) -> Checkpoint:
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

        return onnx.open_file(path)
    from precli.sources import npy

    if kind == "npz":
        return npy.open_npz(path)
    return npy.open_npy(path)
