"""precli.record.Record behaves as typing.NamedTuple does (it only skips the exec)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from precli.cli import options as requests
from precli.cli.options import StreamSource
from precli.record import Record


class Ref(NamedTuple):
    a: str
    b: int | None
    c: str | None = None
    d: int = 7


class Mine(Record):
    a: str
    b: int | None
    c: str | None = None
    d: int = 7


@pytest.mark.parametrize("args, kw", [(("x", 1), {}), (("x", None, "z"), {}),
                                      (("x",), {"b": 2, "d": 9}), ((), {"a": "y", "b": 3})])
def test_record_is_a_named_tuple(args: tuple[object, ...], kw: dict[str, object]) -> None:
    ref, mine = Ref(*args, **kw), Mine(*args, **kw)  # type: ignore[arg-type]
    assert tuple(mine) == tuple(ref) and mine == ref and hash(mine) == hash(ref)
    assert repr(mine) == repr(ref).replace("Ref(", "Mine(")
    assert (mine.a, mine.b, mine.c, mine.d) == (ref.a, ref.b, ref.c, ref.d)
    assert mine._fields == ref._fields and mine._field_defaults == ref._field_defaults
    assert mine._replace(d=1) == ref._replace(d=1)


def test_record_is_frozen_and_checks_its_fields() -> None:
    m = Mine("x", 1)
    with pytest.raises(AttributeError):
        m.a = "y"  # type: ignore[misc]
    for bad in (lambda: Mine("x"), lambda: Mine("x", 1, "c", 4, 5),  # type: ignore[call-arg]
                lambda: Mine("x", 1, e=3)):  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            bad()


def test_record_pickles_and_copies_by_its_fields() -> None:
    import copy
    import pickle

    m = Mine("x", None, "z")
    assert pickle.loads(pickle.dumps(m)) == m and copy.deepcopy(m) == m
    assert type(copy.copy(m)) is Mine


def test_a_field_may_be_called_cls() -> None:
    class K(Record):
        cls: str
        name: str = ""

    assert K(cls="normal").cls == "normal" and K("a", name="b")._replace(cls="c") == ("c", "b")


def test_the_core_records_survive_a_trip_to_a_worker() -> None:
    """Checkpoint workers get recipes, formats and options by pickle."""
    import pickle

    from precli.core.formats import get_block_format, get_format
    from precli.core.values import EncodeOptions

    for x in (get_format("nf4"), get_format("int4"), get_block_format("nvfp4"),
              EncodeOptions(mode="stochastic", seed=3)):
        assert pickle.loads(pickle.dumps(x)) == x


def test_every_request_type_is_a_record() -> None:
    kinds = [v for v in vars(requests).values()
             if isinstance(v, type) and issubclass(v, tuple) and v is not Record
             and v.__module__ == requests.__name__]
    assert len(kinds) == 8 and all(issubclass(k, Record) for k in kinds)
    fmt, path, text = StreamSource("text", None)
    assert (fmt, path, text) == ("text", None, None)
