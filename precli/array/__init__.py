"""The vectorized numpy paths, proven equal to the exact core: codec, recipes, integers."""
