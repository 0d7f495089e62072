"""Numbers and formats, exact: no numpy (format records, names, rounding, what a code means)."""
