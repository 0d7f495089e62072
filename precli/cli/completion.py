"""Shell completion of option values (cheap: no numpy, no rich)."""

from collections.abc import Iterator


def complete_element_format(incomplete: str) -> Iterator[str]:
    from precli.core.formats import all_names

    low = incomplete.lower()
    return (n for n in all_names() if n.startswith(low))


def complete_format(incomplete: str) -> Iterator[str]:
    """Element formats, then the block-scaled ones (mxfp4, nvfp4, ...)."""
    from precli.core.formats import block_formats

    low = incomplete.lower()
    blocks = [n for b in block_formats() for n in (b.name, *b.aliases)]
    return (n for n in (*complete_element_format(incomplete), *blocks) if n.startswith(low))


#: The values of compare's --scheme and --granularity (precli.array.intquant.SCHEMES and
#: GRANULARITIES, spelled out here so completion and help need no numpy; a test checks).
SCHEMES = ("symmetric", "asymmetric")
GRANULARITIES = ("tensor", "channel")


def complete_scheme(incomplete: str) -> Iterator[str]:
    return (m for m in SCHEMES if m.startswith(incomplete.lower()))


def complete_granularity(incomplete: str) -> Iterator[str]:
    return (m for m in GRANULARITIES if m.startswith(incomplete.lower()))


def complete_round(incomplete: str) -> Iterator[str]:
    from precli.core.rounding import ROUND_ALIASES, ROUND_MODES

    return (m for m in (*ROUND_MODES, *ROUND_ALIASES) if m.startswith(incomplete.lower()))


def complete_output(incomplete: str) -> Iterator[str]:
    from precli.stream.writers import OUTPUT_MODES

    return (m for m in OUTPUT_MODES if m.startswith(incomplete))


def complete_input(incomplete: str) -> Iterator[str]:
    return (m for m in ("text", "f16", "f32", "f64", "npy") if m.startswith(incomplete))


def complete_decode_input(incomplete: str) -> Iterator[str]:
    return (m for m in ("text", "u8", "u16", "u32", "u64", "packed", "npy")
            if m.startswith(incomplete))
