"""The format registry: one frozen record per format, everything else derived exactly.

Three kinds of element record:

* :class:`FloatFormat` -- sign / exponent / mantissa minifloats, described by widths, bias
  and a *specials* scheme (how inf / NaN / -0 are encoded);
* :class:`IntFormat` -- two's complement or unsigned integers;
* :class:`TableFormat` -- lookup-table formats such as NF4 (code -> value);

and :class:`BlockFormat`, the block-scaled formats (MX, NVFP4) built on them.

Derived properties use ``fractions.Fraction`` and ``int`` only, so every number is exact.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import cache
from typing import Any, Literal, NamedTuple

from precli.errors import InvalidFormatSpecError, UnknownFormatError
from precli.record import Record

#: How a float format spends its top codes.
#:   ieee   -- exponent all ones: inf (mantissa 0) or NaN; has -0
#:   fn     -- no inf; NaN only at S.1...1.1...1 (OCP FP8 E4M3); has -0
#:   finite -- no inf, no NaN, every code finite (OCP MX FP6 / FP4); has -0
#:   fnuz   -- no inf, no -0; the single NaN is 1.0...0.0...0 (code 0x80 for 8 bits)
#:   fnu    -- unsigned exponent-only scale (E8M0): no sign, no zero, NaN at all ones
Specials = Literal["ieee", "fn", "finite", "fnuz", "fnu"]

MAX_CUSTOM_BITS = 64
MAX_CUSTOM_EXPONENT_BITS = 15


def _dyadic(sig: int, exp: int) -> Fraction:
    """sig * 2**exp exactly, with integer shifts (much cheaper than Fraction powers)."""
    if exp >= 0:
        return Fraction(sig << exp)
    return Fraction(sig, 1 << -exp)


#: Per float format: (mantissa mask, mantissa bits, exponent mask, sign bit or -1), the
#: shifts and masks of FloatFormat.fields (its properties cost a call each).
_LAYOUTS: dict[Any, tuple[int, int, int, int]] = {}


class FloatFormat(NamedTuple):
    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    specials: Specials
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        return "float"

    # ---- layout
    @property
    def signed(self) -> bool:
        return self.specials != "fnu"

    @property
    def sign_bits(self) -> int:
        return 1 if self.signed else 0

    @property
    def bits(self) -> int:
        return self.sign_bits + self.exponent_bits + self.mantissa_bits

    @property
    def nbytes(self) -> int:
        return (self.bits + 7) // 8

    @property
    def hex_digits(self) -> int:
        return (self.bits + 3) // 4

    @property
    def exp_all_ones(self) -> int:
        return (1 << self.exponent_bits) - 1

    @property
    def mant_mask(self) -> int:
        return (1 << self.mantissa_bits) - 1

    @property
    def sign_mask(self) -> int:
        return (1 << (self.bits - 1)) if self.signed else 0

    # ---- specials
    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials != "finite"

    @property
    def has_negative_zero(self) -> bool:
        return self.specials in ("ieee", "fn", "finite")

    @property
    def has_zero(self) -> bool:
        return self.specials != "fnu"

    @property
    def has_subnormals(self) -> bool:
        return self.mantissa_bits > 0 and self.specials != "fnu"

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal value (E8M0 has no subnormals: field 0 is normal)."""
        return -self.bias if self.specials == "fnu" else 1 - self.bias

    def fields(self, code: int) -> tuple[int, int, int]:
        """(sign, exponent field, mantissa field) of a code."""
        lay = _LAYOUTS.get(self)
        if lay is None:
            lay = _LAYOUTS[self] = (self.mant_mask, self.mantissa_bits, self.exp_all_ones,
                                    self.bits - 1 if self.signed else -1)
        mm, mb, ea, sb = lay
        return ((code >> sb) & 1 if sb >= 0 else 0), (code >> mb) & ea, code & mm

    def is_nan(self, code: int) -> bool:
        s, e, m = self.fields(code)
        if self.specials == "ieee":
            return e == self.exp_all_ones and m != 0
        if self.specials == "fn":
            return e == self.exp_all_ones and m == self.mant_mask
        if self.specials == "fnuz":
            return s == 1 and e == 0 and m == 0
        if self.specials == "fnu":
            return e == self.exp_all_ones
        return False

    def is_inf(self, code: int) -> bool:
        s, e, m = self.fields(code)
        return self.specials == "ieee" and e == self.exp_all_ones and m == 0

    def code_magnitude(self, code: int) -> Fraction:
        """|value| of a finite code, exactly (caller checks is_nan / is_inf first)."""
        _, e, m = self.fields(code)
        if self.specials == "fnu":
            return _dyadic(1, e - self.bias)
        if e == 0:
            return _dyadic(m, self.emin - self.mantissa_bits)
        return _dyadic((1 << self.mantissa_bits) + m, e - self.bias - self.mantissa_bits)

    def code_value(self, code: int) -> Fraction:
        """Signed exact value of a finite code (-0 comes back as 0)."""
        mag = self.code_magnitude(code)
        return -mag if self.fields(code)[0] else mag

    def nan_code(self, negative: bool = False) -> int:
        """The canonical NaN this format produces (see docs/formats.md#documented-edge-cases)."""
        E, M = self.exponent_bits, self.mantissa_bits
        if self.specials == "ieee":
            code = (self.exp_all_ones << M) | (1 << (M - 1))  # quiet NaN
        elif self.specials == "fn":
            code = (self.exp_all_ones << M) | self.mant_mask
        elif self.specials == "fnuz":
            return 1 << (self.bits - 1)
        elif self.specials == "fnu":
            return self.exp_all_ones << M
        else:
            raise ValueError(f"{self.name} has no NaN")
        del E
        return code | (self.sign_mask if negative else 0)

    def inf_code(self, negative: bool = False) -> int:
        if not self.has_inf:
            raise ValueError(f"{self.name} has no infinity")
        return (self.exp_all_ones << self.mantissa_bits) | (self.sign_mask if negative else 0)

    # ---- derived range / precision (exact)
    @property
    def max_code(self) -> int:
        """Code of the largest finite value."""
        top = (1 << (self.bits - self.sign_bits)) - 1  # all ones below the sign
        if self.specials == "ieee" or (self.specials == "fnu"):
            return top - (1 << self.mantissa_bits)  # the binade below the specials
        if self.specials == "fn":
            return top - 1  # only S.1..1.1..1 is NaN
        return top  # fnuz (NaN sits at -0) and finite formats: all ones is finite

    @property
    def max(self) -> Fraction:
        return _float_max(self)

    @property
    def min(self) -> Fraction:
        """Most negative finite value (the smallest value for unsigned E8M0)."""
        return -self.max if self.signed else Fraction(2) ** self.emin

    @property
    def smallest_normal(self) -> Fraction:
        return Fraction(2) ** self.emin

    @property
    def smallest_subnormal(self) -> Fraction | None:
        if not self.has_subnormals:
            return None
        return Fraction(2) ** (self.emin - self.mantissa_bits)

    @property
    def smallest_positive(self) -> Fraction:
        sub = self.smallest_subnormal
        return sub if sub is not None else self.smallest_normal

    @property
    def max_exponent(self) -> int:
        """Unbiased exponent of max."""
        return self.fields(self.max_code)[1] - self.bias

    @property
    def eps(self) -> Fraction:
        return Fraction(1, 1 << self.mantissa_bits)

    @property
    def decimal_digits(self) -> int:
        """floor(-log10(eps)) = floor(M log10 2): numpy.finfo's ``precision``."""
        return len(str(1 << self.mantissa_bits)) - 1

    @property
    def resolution(self) -> Fraction:
        """10**-decimal_digits (torch.finfo / numpy.finfo meaning)."""
        return Fraction(1, 10**self.decimal_digits)

    @property
    def nonfinite_codes(self) -> int:
        M = self.mantissa_bits
        return {"ieee": 2 << M, "fn": 2, "fnuz": 1, "fnu": 1, "finite": 0}[self.specials]

    @property
    def finite_codes(self) -> int:
        return (1 << self.bits) - self.nonfinite_codes

    @property
    def finite_values(self) -> int:
        """Distinct finite values: +0 and -0 count once."""
        return self.finite_codes - (1 if self.has_negative_zero else 0)


@cache
def _float_max(fmt: FloatFormat) -> Fraction:
    return fmt.code_magnitude(fmt.max_code)


class IntFormat(Record):
    name: str
    int_bits: int
    is_signed: bool
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        return "int"

    @property
    def bits(self) -> int:
        return self.int_bits

    @property
    def signed(self) -> bool:
        return self.is_signed

    @property
    def sign_bits(self) -> int:
        return 1 if self.is_signed else 0

    @property
    def nbytes(self) -> int:
        return (self.bits + 7) // 8

    @property
    def hex_digits(self) -> int:
        return (self.bits + 3) // 4

    @property
    def max_int(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.is_signed else (1 << self.bits) - 1

    @property
    def min_int(self) -> int:
        return -(1 << (self.bits - 1)) if self.is_signed else 0

    @property
    def max(self) -> Fraction:
        return Fraction(self.max_int)

    @property
    def min(self) -> Fraction:
        return Fraction(self.min_int)

    @property
    def finite_values(self) -> int:
        return 1 << self.bits

    def code_value(self, code: int) -> Fraction:
        if self.is_signed and code >= 1 << (self.bits - 1):
            return Fraction(code - (1 << self.bits))
        return Fraction(code)

    def code_of(self, value: int) -> int:
        return value & ((1 << self.bits) - 1)


class TableFormat(Record):
    """A lookup-table format: code i stands for values[i] (values sorted ascending)."""

    name: str
    table_bits: int
    values: tuple[Fraction, ...]
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        return "table"

    @property
    def bits(self) -> int:
        return self.table_bits

    @property
    def signed(self) -> bool:
        return self.values[0] < 0

    @property
    def nbytes(self) -> int:
        return (self.bits + 7) // 8

    @property
    def hex_digits(self) -> int:
        return (self.bits + 3) // 4

    @property
    def max(self) -> Fraction:
        return max(self.values)

    @property
    def min(self) -> Fraction:
        return min(self.values)

    @property
    def finite_values(self) -> int:
        return len(set(self.values))

    def code_value(self, code: int) -> Fraction:
        return self.values[code]


Format = FloatFormat | IntFormat | TableFormat


# ------------------------------------------------------------------- registry


def _f32(bits: int) -> Fraction:
    """Exact value of a float32 bit pattern (used to pin NF4's table)."""
    s, e, m = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    mag = Fraction(m, 1 << 23) * Fraction(2) ** -126 if e == 0 else (
        Fraction((1 << 23) + m, 1 << 23) * Fraction(2) ** (e - 127)
    )
    return -mag if s else mag


# bitsandbytes get_4bit_type("nf4"): the float32 bit patterns of its 16 values
# (-1.0, -0.6961928009986877, ..., 0.7229568362236023, 1.0; checked in tests/).
_NF4_BITS = (
    0xBF800000, 0xBF3239B1, 0xBF066B30, 0xBECA32A0, 0xBE91A24D, 0xBE3D353F, 0xBDBA7871, 0x00000000,
    0x3DA2FAFF, 0x3E24CAE3, 0x3E7C04DD, 0x3EAD033A, 0x3EE1A4B8, 0x3F1007AB, 0x3F3913B3, 0x3F800000,
)  # fmt: skip

_BUILTIN: tuple[Format, ...] = (
    FloatFormat("fp64", 11, 52, 1023, "ieee", ("float64", "double", "binary64", "f64"),
                "IEEE 754 binary64"),
    FloatFormat("fp32", 8, 23, 127, "ieee", ("float32", "single", "binary32", "f32"),
                "IEEE 754 binary32"),
    FloatFormat("tf32", 8, 10, 127, "ieee", ("tensorfloat32",),
                "NVIDIA TensorFloat-32: fp32 range, fp16 precision; stored in a 32-bit container"),
    FloatFormat("fp16", 5, 10, 15, "ieee", ("float16", "half", "binary16", "f16"),
                "IEEE 754 binary16"),
    FloatFormat("bf16", 8, 7, 127, "ieee", ("bfloat16",), "Google brain float: fp32 range"),
    FloatFormat("e5m2", 5, 2, 15, "ieee", ("fp8_e5m2", "float8_e5m2", "float8e5m2"),
                "OCP FP8 E5M2: IEEE-style inf and NaN"),
    FloatFormat("e4m3fn", 4, 3, 7, "fn", ("fp8", "fp8_e4m3", "float8_e4m3fn", "fp8_e4m3fn",
                                         "float8e4m3fn"),
                "OCP FP8 E4M3: no inf, NaN only at S.1111.111"),
    FloatFormat("e4m3", 4, 3, 7, "ieee", ("float8_e4m3", "fp8_e4m3_ieee"),
                "IEEE-like E4M3 (inf/NaN in the top binade, max 240); OCP FP8 is e4m3fn"),
    FloatFormat("e4m3fnuz", 4, 3, 8, "fnuz", ("float8_e4m3fnuz", "fp8_e4m3fnuz", "float8e4m3fnuz"),
                "E4M3 FNUZ (AMD / Graphcore): bias 8, one NaN at 0x80, no -0"),
    FloatFormat("e5m2fnuz", 5, 2, 16, "fnuz", ("float8_e5m2fnuz", "fp8_e5m2fnuz", "float8e5m2fnuz"),
                "E5M2 FNUZ (AMD / Graphcore): bias 16, one NaN at 0x80, no -0"),
    FloatFormat("e4m3b11fnuz", 4, 3, 11, "fnuz", ("float8_e4m3b11fnuz", "fp8_e4m3b11fnuz"),
                "E4M3 with bias 11 (TPU): one NaN at 0x80, no -0"),
    FloatFormat("e3m4", 3, 4, 3, "ieee", ("float8_e3m4", "fp8_e3m4"),
                "IEEE-like E3M4"),
    FloatFormat("e3m2fn", 3, 2, 3, "finite", ("fp6_e3m2", "float6_e3m2fn", "fp6_e3m2fn",
                                           "float6e3m2"),
                "OCP MX FP6 E3M2: no inf, no NaN"),
    FloatFormat("e2m3fn", 2, 3, 1, "finite", ("fp6", "fp6_e2m3", "float6_e2m3fn", "fp6_e2m3fn",
                                           "float6e2m3"),
                "OCP MX FP6 E2M3: no inf, no NaN"),
    FloatFormat("e2m1fn", 2, 1, 1, "finite", ("fp4", "fp4_e2m1", "float4_e2m1fn", "fp4_e2m1fn",
                                           "float4_e2m1fn_x2", "float4e2m1"),
                "OCP MX FP4 E2M1: values 0, 0.5, 1, 1.5, 2, 3, 4, 6"),
    FloatFormat("e8m0fnu", 8, 0, 127, "fnu", ("float8_e8m0fnu", "e8m0", "fp8_e8m0"),
                "OCP MX scale E8M0: unsigned powers of two, no zero, NaN 0xff"),
    TableFormat("nf4", 4, tuple(_f32(b) for b in _NF4_BITS), ("normalfloat4",),
                "QLoRA NormalFloat4 (bitsandbytes): 16 float32 code values on [-1, 1]"),
    *(IntFormat(f"int{b}", b, True, (), f"{b}-bit two's complement integer")
      for b in (2, 4, 8, 16, 32, 64)),
    *(IntFormat(f"uint{b}", b, False, (), f"{b}-bit unsigned integer")
      for b in (2, 4, 8, 16, 32, 64)),
)  # fmt: skip

BUILTIN_NAMES: tuple[str, ...] = tuple(f.name for f in _BUILTIN)

_BY_NAME: dict[str, Format] = {}
for _f in _BUILTIN:
    for _n in (_f.name, *_f.aliases):
        assert _n not in _BY_NAME, _n
        _BY_NAME[_n] = _f

_CUSTOM = re.compile(r"e(\d+)m(\d+)(fn|fnuz)?")

# ------------------------------------------------------------- which float64 paths are exact


@cache
def fits_float64(fmt: FloatFormat) -> bool:
    """Is every finite value of ``fmt`` a float64 (so decoding to float64 is exact)?"""
    if fmt.specials == "fnu":
        return -1022 <= fmt.emin and fmt.max_exponent <= 1023
    return (
        fmt.mantissa_bits <= 52
        and fmt.max_exponent <= 1023
        and (fmt.emin - fmt.mantissa_bits >= -1074)
    )


@cache
def float64_exact(fmt: FloatFormat) -> bool:
    """Every value of the format, and every midpoint between neighbours, is a float64
    with room to spare (fp32 and narrower): the scalar paths may use float64 arithmetic."""
    top = (1 << fmt.exponent_bits) - fmt.bias
    return fmt.mantissa_bits <= 48 and top <= 1000 and fmt.emin - fmt.mantissa_bits - 1 >= -1000


def builtin_formats() -> tuple[Format, ...]:
    return _BUILTIN


def all_names() -> list[str]:
    """Every canonical name and alias (for completion and suggestions)."""
    return list(_BY_NAME)


def custom_format(exponent_bits: int, mantissa_bits: int, suffix: str = "") -> FloatFormat:
    """Build an eXmY[fn|fnuz] minifloat, checking bounds.

    Plain eXmY is IEEE-style. ``fn`` has no inf; at 8 bits or more it keeps one NaN per
    sign at all ones (like OCP E4M3), below 8 bits it has no NaN (like OCP MX FP6/FP4).
    ``fnuz`` has one NaN at 1.0...0, no -0, and bias 2^(E-1) (one more than IEEE).
    """
    E, M = exponent_bits, mantissa_bits
    name = f"e{E}m{M}{suffix}"
    total = 1 + E + M
    if total > MAX_CUSTOM_BITS:
        raise InvalidFormatSpecError(f"{name} has {total} bits; custom formats have at most 64")
    if not 1 <= E <= MAX_CUSTOM_EXPONENT_BITS:
        raise InvalidFormatSpecError(
            f"{name}: exponent bits must be 1..{MAX_CUSTOM_EXPONENT_BITS}, got {E}"
        )
    if suffix == "":
        if E < 2 or M < 1:
            raise InvalidFormatSpecError(
                f"{name}: IEEE-style formats need at least 2 exponent bits and 1 mantissa bit "
                "(try the fn suffix)"
            )
        return FloatFormat(name, E, M, (1 << (E - 1)) - 1, "ieee", (), "custom IEEE-style")
    if suffix == "fn":
        specials: Specials = "fn" if total >= 8 else "finite"
        if specials == "fn" and E == 1 and M == 0:
            raise InvalidFormatSpecError(f"{name} has no finite nonzero values")
        desc = "custom, no inf, NaN at all ones" if specials == "fn" else "custom, no inf/NaN"
        return FloatFormat(name, E, M, (1 << (E - 1)) - 1, specials, (), desc)
    return FloatFormat(name, E, M, 1 << (E - 1), "fnuz", (), "custom, one NaN at 0x80.., no -0")


#: Module prefixes people copy from code (``torch.float16``, ``np.float16``,
#: ``jnp.bfloat16``, ``ml_dtypes.float8_e4m3fn``, ``onnx.TensorProto.FLOAT8E4M3FN``).
_PREFIXES = ("torch.", "numpy.", "np.", "jax.numpy.", "jnp.", "ml_dtypes.", "tf.",
             "tensorflow.", "onnx.tensorproto.", "tensorproto.")

#: Names whose meaning depends on the library: ``torch.float`` is float32, while numpy's
#: ``float_`` is float64. Bare ``float`` is ambiguous and stays unknown.
_LIBRARY_NAMES: dict[tuple[str, str], str] = {
    ("torch", "float"): "fp32",
    ("numpy", "float_"): "fp64",
    ("np", "float_"): "fp64",
}

#: One-line notes for names that resolve to a near twin of the format people usually mean.
#: Keyed by the name as typed (normalised); printed once on stderr by the CLI.
_NAME_NOTES: dict[str, str] = {
    "e4m3": "e4m3 is the IEEE-like E4M3 (max 240, has inf); OCP FP8 E4M3 is e4m3fn (max "
            "448, alias fp8)",
    "float8_e4m3": "float8_e4m3 is the IEEE-like E4M3 (max 240, has inf); OCP FP8 E4M3 "
                   "(torch.float8_e4m3fn) is e4m3fn (max 448)",
    "e2m1": "e2m1 is a custom IEEE-style FP4 (max 3, has inf and NaN); OCP MX FP4 is e2m1fn "
            "(max 6, alias fp4)",
    "e3m2": "e3m2 is a custom IEEE-style FP6 (max 14, has inf and NaN); OCP MX FP6 E3M2 is "
            "e3m2fn (max 28)",
    "e2m3": "e2m3 is a custom IEEE-style FP6 (max 3.75, has inf and NaN); OCP MX FP6 E2M3 is "
            "e2m3fn (max 7.5, alias fp6)",
    "fp6": "fp6 means e2m3fn (OCP MX FP6 E2M3, max 7.5, as mxfp6 is mxfp6_e2m3); the other "
           "OCP FP6 is e3m2fn (max 28)",
}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _split_prefix(key: str) -> tuple[str, str]:
    """('torch', 'float16') for 'torch.float16'; ('', key) without a known prefix."""
    for p in _PREFIXES:
        if key.startswith(p) and len(key) > len(p):
            return p[:-1], key[len(p):]
    return "", key


def name_note(name: str) -> str | None:
    """The trap note for a name (e4m3 is not OCP e4m3fn, ...), or None."""
    return _NAME_NOTES.get(_split_prefix(_normalise(name))[1])


def get_format(name: str) -> Format:
    """Resolve a canonical name, alias or custom eXmY[fn|fnuz] spec (case-insensitive).

    Library spellings work too: ``torch.bfloat16``, ``np.float16``, ``jnp.bfloat16``,
    ``ml_dtypes.float8_e4m3fn``, ``onnx.TensorProto.FLOAT4E2M1`` (see
    docs/formats.md#names-and-aliases)."""
    prefix, key = _split_prefix(_normalise(name))
    lib = _LIBRARY_NAMES.get((prefix, key))
    if lib is not None:
        return _BY_NAME[lib]
    fmt = _BY_NAME.get(key)
    if fmt is not None:
        return fmt
    m = _CUSTOM.fullmatch(key)
    if m:
        return custom_format(int(m.group(1)), int(m.group(2)), m.group(3) or "")
    raise UnknownFormatError(f"unknown format {name!r}{suggestion_hint(key)}")


def suggestion_hint(name: str) -> str:
    """'; did you mean fp16, fp64, fp6?' over every element and block-format name."""
    import difflib

    key = _split_prefix(_normalise(name))[1]
    names = all_names()
    names += [n for b in block_formats() for n in (b.name, *b.aliases)]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else "; see `precli info` for the list"


# ====================================================== block-scaled formats
#
# The registry of the OCP Microscaling (MX) formats of the OCP MX specification v1.0 and
# NVIDIA's NVFP4 (records, names, storage bits). Their scale rules are in
# :func:`precli.array.recipes.scale_exact`.


class BlockFormat(Record):
    """A block-scaled format: ``block_size`` elements share one scale.

    ``element`` and ``scale`` name formats of :mod:`precli.core.formats`. An element code
    stands for ``element value * 2**element_exp`` (MXINT8: ``-6``). ``emax_elem`` is the
    exponent of the element format's largest normal (the MX shared-exponent offset).
    ``tensor_scale_bits`` is the per-tensor scale NVFP4 adds (one fp32)."""

    name: str
    kind: Literal["mx", "nvfp4"]
    element: str
    scale: str
    block_size: int
    emax_elem: int
    element_exp: int = 0
    tensor_scale_bits: int = 0
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def element_format(self) -> Format:
        return get_format(self.element)

    @property
    def scale_format(self) -> FloatFormat:
        f = get_format(self.scale)
        assert isinstance(f, FloatFormat)
        return f

    @property
    def bits(self) -> int:
        """Bits of one element code."""
        return self.element_format.bits

    @property
    def max(self) -> Fraction:
        """Largest element magnitude before scaling (element max * 2**element_exp)."""
        return self.element_format.max * Fraction(2) ** self.element_exp


_BLOCK_BUILTIN: tuple[BlockFormat, ...] = (
    BlockFormat("mxfp8_e4m3", "mx", "e4m3fn", "e8m0fnu", 32, 8, 0, 0, ("mxfp8",),
                "OCP MX: 32 FP8 E4M3 elements, one E8M0 scale"),
    BlockFormat("mxfp8_e5m2", "mx", "e5m2", "e8m0fnu", 32, 15, 0, 0, (),
                "OCP MX: 32 FP8 E5M2 elements, one E8M0 scale"),
    BlockFormat("mxfp6_e3m2", "mx", "e3m2fn", "e8m0fnu", 32, 4, 0, 0, (),
                "OCP MX: 32 FP6 E3M2 elements, one E8M0 scale"),
    BlockFormat("mxfp6_e2m3", "mx", "e2m3fn", "e8m0fnu", 32, 2, 0, 0, ("mxfp6",),
                "OCP MX: 32 FP6 E2M3 elements, one E8M0 scale"),
    BlockFormat("mxfp4", "mx", "e2m1fn", "e8m0fnu", 32, 2, 0, 0, ("mxfp4_e2m1",),
                "OCP MX: 32 FP4 E2M1 elements, one E8M0 scale"),
    BlockFormat("mxint8", "mx", "int8", "e8m0fnu", 32, 0, -6, 0, (),
                "OCP MX: 32 INT8 elements (q * 2^-6, in [-2, 127/64]), one E8M0 scale"),
    BlockFormat("nvfp4", "nvfp4", "e2m1fn", "e4m3fn", 16, 2, 0, 32, (),
                "NVIDIA NVFP4: 16 FP4 E2M1 elements, one FP8 E4M3 scale, one fp32 per tensor"),
)  # fmt: skip

_BLOCK_BY_NAME: dict[str, BlockFormat] = {}
for _b in _BLOCK_BUILTIN:
    for _n in (_b.name, *_b.aliases):
        assert _n not in _BLOCK_BY_NAME, _n
        _BLOCK_BY_NAME[_n] = _b


def block_formats() -> tuple[BlockFormat, ...]:
    return _BLOCK_BUILTIN


def _block_key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def is_block_format(name: str) -> bool:
    return _block_key(name) in _BLOCK_BY_NAME


def get_block_format(name: str) -> BlockFormat:
    """Resolve a block-format name or alias (case-insensitive); UnknownFormatError else."""
    key = _block_key(name)
    b = _BLOCK_BY_NAME.get(key)
    if b is not None:
        return b
    import difflib

    close = difflib.get_close_matches(key, list(_BLOCK_BY_NAME), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownFormatError(f"unknown block format {name!r}{hint}")


def effective_bits(bfmt: BlockFormat, n: int | None = None) -> float:
    """Storage bits per element: element bits + scale bits / block size, plus, for a tensor
    of n elements, its per-tensor scale bits / n (mxfp4: 4.25; nvfp4: 4.5 + 32 / n)."""
    bits = bfmt.bits + bfmt.scale_format.bits / bfmt.block_size
    if n is not None and n > 0:
        bits += bfmt.tensor_scale_bits / n
    return bits
