"""The command line: Typer signatures in app, every cross-option rule in options, terminal
helpers, command bodies by family, Rich views.

:class:`Record` is the frozen record type of the CLI's requests and terminal facts: typed as
a NamedTuple, and at run time the same behaviour (fields from the annotations, defaults,
unpacking, immutability) without the ``exec`` that makes each NamedTuple class cost about
0.15 ms of every precli start.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

__all__ = ["Record"]

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    class Record(tuple):
        """typing.NamedTuple's behaviour for these records, made without exec (about 10 us
        a class): fields from the annotations, defaults from the class's values."""

        __slots__ = ()
        _fields: tuple[str, ...] = ()
        _field_defaults: dict[str, Any] = {}

        def __init_subclass__(cls) -> None:
            names = tuple(cls.__dict__.get("__annotations__", {}))
            cls._fields = names
            cls._field_defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
            for i, n in enumerate(names):
                setattr(cls, n, property(itemgetter(i)))

        def __new__(cls, *args: Any, **kw: Any) -> Any:
            if len(args) > len(cls._fields):
                raise TypeError(f"{cls.__name__} takes at most {len(cls._fields)} fields")
            vals = list(args)
            for n in cls._fields[len(args):]:
                if n in kw:
                    vals.append(kw.pop(n))
                elif n in cls._field_defaults:
                    vals.append(cls._field_defaults[n])
                else:
                    raise TypeError(f"{cls.__name__} needs its field {n!r}")
            if kw:
                raise TypeError(f"{cls.__name__} has no field {next(iter(kw))!r}")
            return tuple.__new__(cls, vals)

        def __repr__(self) -> str:
            fields = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=True))
            return f"{type(self).__name__}({fields})"

        def _replace(self, **kw: Any) -> Any:
            return type(self)(**{**dict(zip(self._fields, self, strict=True)), **kw})
