"""Text and binary streams: batches in, records and bytes out (parsing, float repr, writers)."""
