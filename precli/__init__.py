"""precli as a library: the facts of ML number formats, exact encode / decode, array casts,
and checkpoint reports, in Python (docs/python-api.md shows every function at work).

``import precli`` is cheap: it loads no numpy, rich or typer (nor typing). Every public
name is imported the first time it is used (PEP 562): the functions from
:mod:`precli.api`, thin clients of the library modules the CLI runs, so they return what
``precli`` prints; the result types and errors from the modules that define them. Format
facts and scalar encode / decode never load numpy; the array and checkpoint functions load
it when they run. Bad arguments raise :class:`PrecliError` subclasses.
"""

# Type checkers treat a module-level TYPE_CHECKING as typing.TYPE_CHECKING: they see every
# name below, while the interpreter imports none of them (nor typing, about 10 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from precli.api import PlanResult as PlanResult
    from precli.api import analyze as analyze
    from precli.api import block_format as block_format
    from precli.api import block_formats as block_formats
    from precli.api import check as check
    from precli.api import compare as compare
    from precli.api import decode as decode
    from precli.api import decode_array as decode_array
    from precli.api import diff as diff
    from precli.api import encode as encode
    from precli.api import encode_array as encode_array
    from precli.api import format as format
    from precli.api import formats as formats
    from precli.api import open_checkpoint as open_checkpoint
    from precli.api import plan as plan
    from precli.api import round_array as round_array
    from precli.core.exact import ExactValue as ExactValue
    from precli.core.formats import BlockFormat as BlockFormat
    from precli.core.formats import FloatFormat as FloatFormat
    from precli.core.formats import Format as Format
    from precli.core.formats import IntFormat as IntFormat
    from precli.core.formats import TableFormat as TableFormat
    from precli.core.values import CodeInfo as CodeInfo
    from precli.core.values import EncodeResult as EncodeResult
    from precli.errors import CodeRangeError as CodeRangeError
    from precli.errors import InvalidFormatSpecError as InvalidFormatSpecError
    from precli.errors import NotRepresentableError as NotRepresentableError
    from precli.errors import PrecliError as PrecliError
    from precli.errors import UnknownFormatError as UnknownFormatError
    from precli.errors import UsageError as UsageError
    from precli.errors import ValueParseError as ValueParseError
    from precli.model.analyze import ModelReport as ModelReport
    from precli.model.analyze import TensorResult as TensorResult
    from precli.model.check import CheckReport as CheckReport
    from precli.model.check import Finding as Finding
    from precli.model.check import TensorCheck as TensorCheck
    from precli.model.diff import DiffReport as DiffReport
    from precli.model.diff import TensorDiff as TensorDiff
    from precli.model.plan import Plan as Plan
    from precli.model.plan import PlanError as PlanError
    from precli.model.stats import CompareStats as CompareStats
    from precli.sources.base import Checkpoint as Checkpoint
    from precli.sources.base import CheckpointError as CheckpointError
    from precli.sources.base import Tensor as Tensor
    from precli.version import __version__ as __version__

__all__ = [
    "__version__",
    # formats
    "format", "formats", "block_format", "block_formats",
    # values
    "encode", "decode", "round_array", "encode_array", "decode_array",
    # arrays
    "compare",
    # checkpoints
    "open_checkpoint", "analyze", "plan", "check", "diff",
    # result types
    "BlockFormat", "Checkpoint", "CheckReport", "CodeInfo", "CompareStats", "DiffReport",
    "EncodeResult", "ExactValue", "Finding", "FloatFormat", "Format", "IntFormat",
    "ModelReport", "Plan", "PlanResult", "TableFormat", "Tensor", "TensorCheck",
    "TensorDiff", "TensorResult",
    # errors
    "PrecliError", "UsageError", "UnknownFormatError", "InvalidFormatSpecError",
    "ValueParseError", "NotRepresentableError", "CodeRangeError", "CheckpointError",
    "PlanError",
]  # fmt: skip

#: Where each public name lives: imported from there on first use.
_LAZY = {
    "__version__": "precli.version",
    **dict.fromkeys(("format", "formats", "block_format", "block_formats", "encode", "decode",
                     "round_array", "encode_array", "decode_array", "compare",
                     "open_checkpoint", "analyze", "plan", "check", "diff", "PlanResult"),
                    "precli.api"),
    **dict.fromkeys(("BlockFormat", "FloatFormat", "Format", "IntFormat", "TableFormat"),
                    "precli.core.formats"),
    "ExactValue": "precli.core.exact",
    **dict.fromkeys(("CodeInfo", "EncodeResult"), "precli.core.values"),
    **dict.fromkeys(("PrecliError", "UsageError", "UnknownFormatError",
                     "InvalidFormatSpecError", "ValueParseError", "NotRepresentableError",
                     "CodeRangeError"), "precli.errors"),
    **dict.fromkeys(("Checkpoint", "CheckpointError", "Tensor"), "precli.sources.base"),
    "CompareStats": "precli.model.stats",
    **dict.fromkeys(("ModelReport", "TensorResult"), "precli.model.analyze"),
    **dict.fromkeys(("CheckReport", "Finding", "TensorCheck"), "precli.model.check"),
    **dict.fromkeys(("DiffReport", "TensorDiff"), "precli.model.diff"),
    **dict.fromkeys(("Plan", "PlanError"), "precli.model.plan"),
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'precli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
