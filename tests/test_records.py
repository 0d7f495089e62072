"""The fast record outputs (per-code templates + integer error arithmetic) against the exact
path (one encode_exact / decode_text per value, rendered by the writer), byte for byte."""

from __future__ import annotations

import io
import random
from fractions import Fraction

import numpy as np
import pytest

from precli.core.exact import exact_decimal, parse_number
from precli.core.formats import FloatFormat, IntFormat, get_format
from precli.core.values import EncodeOptions, ErrorRecord, decode_text, encode_exact
from precli.stream import batches as bulk
from precli.stream.records import Block
from precli.stream.writers import RESULT_KEYS, RecordWriter, result_record

MODES = ("ndjson", "csv", "json")  # json keeps the per-value path: both are checked


@pytest.fixture(autouse=True)
def _byte_path_for_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """ndjson / csv batches of any size take the byte-matrix path here (in use it starts at
    bulk.FAST_MIN values)."""
    monkeypatch.setattr(bulk, "FAST_MIN", 1)


def _writer(mode: str, key: str) -> RecordWriter:
    return RecordWriter(io.StringIO(), mode, RESULT_KEYS, key)


def fast_encode(name: str, batch: bulk.Batch, mode: str, opts: EncodeOptions) -> list[str]:
    fmt = get_format(name)
    w = _writer(mode, "hex")
    texts = bulk.RecordTexts(fmt, w, opts)
    out = [r for part in texts.encode(batch, bulk.encode_batch(fmt, batch, opts)) for r in part]
    return _flat(w, out)


def _flat(w: RecordWriter, out: list[object]) -> list[str]:
    """One str per record: Blocks (records rendered as bytes) split at their line ends."""
    res: list[str] = []
    for r in out:
        if isinstance(r, Block):
            lines = r.data.decode().splitlines(keepends=True)
            assert len(lines) == r.records
            res += lines
        elif isinstance(r, ErrorRecord):
            res.append(w.render(result_record(r)))
        else:
            assert isinstance(r, str)
            res.append(r)
    return res


def exact_encode(name: str, batch: bulk.Batch, mode: str, opts: EncodeOptions) -> list[str]:
    w = _writer(mode, "hex")
    return [w.render(result_record(r))
            for r in bulk.encode_records(get_format(name), batch, opts)]


def _value_texts(name: str, every: int = 1, seed: int = 0) -> list[str]:
    """Per code: its exact value, the midpoints to its neighbours and decimals a hair off
    them, a third of the way to the next value, plus signs, zeros, specials, junk."""
    fmt = get_format(name)
    rng = random.Random(seed)
    vals = sorted({fmt.code_value(c) for c in range(0, 1 << fmt.bits, every)
                   if _finite(fmt, c)})
    out = ["0", "-0", "0.0", "inf", "-inf", "nan", "1e-400", "-1e-60", "1e60", "abc", "0x1p-3",
           "1e5", ".5", "5.", "+2", "1_0"]
    for a, b in zip(vals, vals[1:], strict=False):
        mid = (a + b) / 2
        out += [exact_decimal(a), exact_decimal(mid), _dec(a + (b - a) / 3)]
        tiny = Fraction(1, 10**25) * max(abs(mid), Fraction(1, 10**30))
        out += [exact_decimal(mid)[:40], _dec(mid + tiny), _dec(mid - tiny)]
    out += [f"{rng.gauss(0, 1) * 10 ** rng.randint(-12, 12):.17g}" for _ in range(500)]
    return out


def _dec(x: Fraction) -> str:
    return f"{float(x):.25e}" if x else "0"


def _finite(fmt: object, c: int) -> bool:
    if isinstance(fmt, FloatFormat):
        return not (fmt.is_nan(c) or fmt.is_inf(c))
    return True


def _text_batch(texts: list[str]) -> bulk.Batch:
    return bulk.Batch(0, body=("\n".join(texts) + "\n").encode())


SMALL = ["e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz", "e3m2fn", "e2m3fn", "e2m1fn", "e4m3",
         "e8m0fnu", "int8", "uint8", "int4", "nf4"]


@pytest.mark.parametrize("name", SMALL)
def test_encode_every_code_small_formats(name: str) -> None:
    """Every code of every format of 8 bits or fewer, every output mode."""
    batch = _text_batch(_value_texts(name))
    opts = EncodeOptions()
    for mode in MODES:
        assert fast_encode(name, batch, mode, opts) == exact_encode(name, batch, mode, opts)


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_encode_16_bit_formats(name: str) -> None:
    """Every 29th code of the 16-bit formats (each code's value, midpoints, near-midpoints);
    their decode templates are checked on every 5th code below."""
    batch = _text_batch(_value_texts(name, every=29, seed=1))
    opts = EncodeOptions()
    assert fast_encode(name, batch, "ndjson", opts) == exact_encode(name, batch, "ndjson", opts)


@pytest.mark.parametrize("name", ["fp32", "tf32", "fp64"])
def test_encode_wide_formats_patterned_and_random(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, FloatFormat)
    rng = random.Random(3)
    texts = []
    for e in list(range(fmt.emin - fmt.mantissa_bits - 2, fmt.emin + 3)) + \
            list(range(-5, 6)) + list(range(fmt.max_exponent - 2, fmt.max_exponent + 2)):
        for m in (0, 1, (1 << fmt.mantissa_bits) - 1, 1 << (fmt.mantissa_bits - 1)):
            v = (Fraction((1 << fmt.mantissa_bits) + m, 1 << fmt.mantissa_bits)
                 * Fraction(2) ** e)
            ulp = Fraction(2) ** (e - fmt.mantissa_bits)
            for x in (v, v + ulp / 2, v + ulp / 3):
                try:
                    texts.append(f"{float(x):.30e}" if abs(e) < 300 else f"{float(x)!r}")
                except OverflowError:  # past float64: its integer part, exactly
                    texts.append(str(x.numerator // x.denominator))
    texts += [f"{rng.uniform(-1, 1) * 10 ** rng.randint(-40, 40):.{rng.randint(1, 25)}g}"
              for _ in range(3000)]
    batch = _text_batch(texts)
    for mode in MODES:  # json: the per-value path, its templates made a slice at a time
        assert fast_encode(name, batch, mode, EncodeOptions()) == \
            exact_encode(name, batch, mode, EncodeOptions())


@pytest.mark.parametrize("mode", ["toward-zero", "up", "odd", "nearest-away"])
def test_encode_directed_modes_and_saturate(mode: str) -> None:
    batch = _text_batch(_value_texts("e4m3fn"))
    for sat in (False, True):
        opts = EncodeOptions(mode=mode, saturate=sat)
        assert fast_encode("e4m3fn", batch, "ndjson", opts) == \
            exact_encode("e4m3fn", batch, "ndjson", opts)


@pytest.mark.parametrize("name", ["bf16", "e4m3fn", "int8", "nf4"])
def test_encode_binary_input(name: str) -> None:
    rng = np.random.default_rng(4)
    vals = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-8, 8, 3000),
                           [0.0, -0.0, np.inf, -np.inf, np.nan, 448.0, 464.0, 1e-45, 3e38]])
    for dt in (np.float32, np.float64):
        batch = bulk.Batch(0, values=vals.astype(dt))
        assert fast_encode(name, batch, "ndjson", EncodeOptions()) == \
            exact_encode(name, batch, "ndjson", EncodeOptions())
    ints = bulk.Batch(0, values=np.array([0, 1, -7, 2**53 + 1, -(2**62), 300], np.int64))
    assert fast_encode(name, ints, "csv", EncodeOptions()) == \
        exact_encode(name, ints, "csv", EncodeOptions())


def test_encode_inputs_that_need_escaping() -> None:
    texts = ['1"', "1,5", "\\x", "é1", "1.5", "2"]
    batch = _text_batch(texts)
    for mode in MODES:
        assert fast_encode("fp16", batch, mode, EncodeOptions()) == \
            exact_encode("fp16", batch, mode, EncodeOptions())


@pytest.mark.parametrize("name", ["e4m3fn", "e2m1fn", "int8", "nf4", "e8m0fnu", "fp16"])
def test_decode_every_code(name: str) -> None:
    fmt = get_format(name)
    step = 5 if fmt.bits > 8 else 1
    texts = [f"0x{c:x}" for c in range(0, 1 << fmt.bits, step)] + ["zz", "0x1ffff", "0b1"]
    batch = _text_batch(texts)
    scales = [(None, None)]
    if isinstance(fmt, IntFormat):
        scales.append((Fraction(1, 10), 3))
    for scale, zp in scales:
        for mode in MODES:
            w = _writer(mode, "value")
            rt = bulk.RecordTexts(fmt, w, scale=scale, zero_point=zp)
            got = _flat(w, [r for part in rt.decode(batch, bulk.decode_codes(fmt, batch))
                            for r in part])
            want = []
            for t in texts:
                try:
                    want.append(w.render(result_record(decode_text(fmt, t, scale, zp))))
                except Exception as e:  # noqa: BLE001 - the error record is the expectation
                    want.append(w.render(result_record(ErrorRecord(t, str(e)))))
            assert got == want


def test_template_matches_writer_for_every_field_kind() -> None:
    """A template filled with a value renders as the writer renders that value."""
    fmt = get_format("bf16")
    r = encode_exact(fmt, "0.1", parse_number("0.1"),
                     EncodeOptions())
    rec = result_record(r)
    for mode in MODES:
        w = _writer(mode, "hex")
        t = w.template(rec, ("input", "abs_error", "rel_error", "ulp_error"))
        cells = [t.cell(rec[k]) for k in ("input", "abs_error", "rel_error", "ulp_error")]
        filled = "".join(p + c for p, c in zip(t.pieces, [*cells, ""], strict=True))
        assert filled == w.render(rec)


@pytest.mark.parametrize("ufuncs", [True, False])
def test_both_record_joins(ufuncs: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrow pieces joined by numpy's string ufuncs (numpy >= 2) and by compaction
    (numpy 1.26) give the same records, which are the exact path's."""
    from precli.stream import records as fastrec

    monkeypatch.setattr(fastrec, "STRING_UFUNCS", ufuncs)
    batch = _text_batch(_value_texts("bf16", every=97, seed=2) + ['1"', "x", "-0", "1e-50"])
    for mode in ("ndjson", "csv"):
        assert fast_encode("bf16", batch, mode, EncodeOptions()) == \
            exact_encode("bf16", batch, mode, EncodeOptions())
    codes = _text_batch([f"0x{c:x}" for c in range(0, 256)] + ["zz"])
    w = _writer("ndjson", "value")
    rt = bulk.RecordTexts(get_format("e4m3fn"), w)
    got = _flat(w, [r for p in rt.decode(codes, bulk.decode_codes(rt.fmt, codes)) for r in p])
    assert got[:256] == [w.render(result_record(decode_text(rt.fmt, f"0x{c:x}")))
                         for c in range(256)]


@pytest.mark.parametrize("name", ["fp64", "int64", "fp32"])
def test_decode_codes_with_the_top_bit_set(name: str) -> None:
    """64-bit codes past 2^63 (negative fp64 values, int64 codes of negative integers) on
    the byte path: once an internal error (the codes were taken as int64)."""
    fmt = get_format(name)
    top = 1 << (fmt.bits - 1)
    rng = random.Random(13)
    texts = [f"0x{top | rng.getrandbits(fmt.bits - 1):x}" for _ in range(300)] + \
        [f"0x{rng.getrandbits(fmt.bits - 1):x}" for _ in range(300)] + [f"0x{top:x}"]
    batch = _text_batch(texts)
    for mode in MODES:
        w = _writer(mode, "value")
        rt = bulk.RecordTexts(fmt, w)
        got = _flat(w, [r for p in rt.decode(batch, bulk.decode_codes(fmt, batch)) for r in p])
        assert got == [w.render(result_record(decode_text(fmt, t))) for t in texts]


@pytest.mark.parametrize("name", ["e6m9", "e7m20fn", "e10m40", "e11m52fnuz"])
def test_encode_custom_formats(name: str) -> None:
    """Custom formats (no numpy type for their shortest; fp64-sized ones take the per-value
    path) give the exact path's records in every mode."""
    rng = random.Random(14)
    texts = [f"{rng.uniform(-1, 1) * 10 ** rng.randint(-12, 12):.{rng.randint(1, 18)}g}"
             for _ in range(600)]
    batch = _text_batch(texts)
    for mode in MODES:
        assert fast_encode(name, batch, mode, EncodeOptions()) == \
            exact_encode(name, batch, mode, EncodeOptions())
