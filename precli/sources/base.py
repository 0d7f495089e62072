"""What every checkpoint reader yields: :class:`Tensor`, :class:`Checkpoint`, and the one
error type, :class:`CheckpointError`, naming the file and the tensor.

The readers (safetensors, gguf, onnx, npy) import these from here, and the package's
``open_checkpoint`` imports the readers: this module sits below both. No numpy at load.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from precli.errors import PrecliError

if TYPE_CHECKING:
    import numpy.typing as npt

    from precli.array.views import View


class ElementReader(Protocol):
    """What a :class:`Tensor` reads its elements with (:class:`precli.sources.read.Reader`
    and its kinds)."""

    def read(self, start: int, stop: int) -> npt.NDArray[Any]: ...

__all__ = ["KINDS", "PICKLE_HINT", "Checkpoint", "CheckpointError", "ElementReader",
           "Tensor"]

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
    _reader: ElementReader | None = field(default=None, repr=False, compare=False)
    # how a runtime multiplies it, when the file says (an ONNX graph, GGUF's ne0); None:
    # decided by name and shape (precli.array.views.guess_view)
    view: View | None = field(default=None, kw_only=True)
    # the operators that consume it (ONNX: op types, e.g. ("MatMul",)); () when unknown
    uses: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def reader(self) -> ElementReader | None:
        """What reads the stored data (None: nothing to read)."""
        return self._reader

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

    def __iter__(self) -> Iterator[Tensor]:
        return self.tensors()


PICKLE_HINT = ("precli never unpickles; convert it to safetensors (e.g. in Python: "
                "safetensors.torch.save_file(torch.load(path, weights_only=True), "
                "'model.safetensors'))")
