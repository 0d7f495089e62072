"""precli's frozen record type: typed as a NamedTuple, and at run time the same behaviour
(fields from the annotations, defaults, tuple equality and hashing, unpacking, pickling,
immutability, ``_replace``) without the ``exec`` with which ``typing.NamedTuple`` makes each
class: about 10 us a class instead of 150, paid by every precli start for the two dozen
records the CLI and the exact core define.
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

        def __new__(klass, /, *args: Any, **kw: Any) -> Any:  # a field may be called cls
            n = len(args)
            if not kw and n == len(klass._fields):  # the common case: every field by position
                return tuple.__new__(klass, args)
            if n > len(klass._fields):
                raise TypeError(f"{klass.__name__} takes at most {len(klass._fields)} fields")
            vals = list(args)
            for name in klass._fields[n:]:
                if name in kw:
                    vals.append(kw.pop(name))
                elif name in klass._field_defaults:
                    vals.append(klass._field_defaults[name])
                else:
                    raise TypeError(f"{klass.__name__} needs its field {name!r}")
            if kw:
                raise TypeError(f"{klass.__name__} has no field {next(iter(kw))!r}")
            return tuple.__new__(klass, vals)

        def __repr__(self) -> str:
            fields = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=True))
            return f"{type(self).__name__}({fields})"

        def __getnewargs__(self) -> tuple[Any, ...]:  # pickle and copy rebuild by fields
            return tuple(self)

        def _replace(self, **kw: Any) -> Any:
            return type(self)(**{**dict(zip(self._fields, self, strict=True)), **kw})
