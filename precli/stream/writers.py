"""Where results go: output modes, the JSON / CSV / plain records and their writers.

Writers turn result objects into text; they never compute anything. Whether stdout is a
terminal is the CLI's to decide (:mod:`precli.cli.terminal`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, Any

from precli.core.exact import escape_controls
from precli.core.values import (
    CodeInfo,
    DecodeResult,
    EncodeResult,
    ErrorRecord,
    to_float,
)
from precli.record import Record

OUTPUT_MODES = ("table", "json", "csv", "plain", "ndjson", "raw")


# ------------------------------------------------------------ records

RESULT_KEYS = (
    "input", "format", "round", "hex", "bits", "sign", "exponent", "mantissa", "class",
    "value", "exact", "shortest", "abs_error", "rel_error", "ulp_error", "ulp", "prev", "next",
    "flags",
)  # fmt: skip


def result_record(r: EncodeResult | DecodeResult | ErrorRecord) -> dict[str, Any]:
    """The JSON contract of encode / decode (docs/json.md#encode-and-decode)."""
    if isinstance(r, ErrorRecord):
        return {"input": r.input, "error": r.error}
    info = r.info
    rec: dict[str, Any] = {
        "input": r.input,
        "format": info.format.name,
        "round": r.round if isinstance(r, EncodeResult) else None,
        "hex": info.hex,
        "bits": info.bits,
        "sign": info.sign,
        "exponent": info.exponent,
        "mantissa": info.mantissa,
        "class": info.cls,
        "value": info.value,
        "exact": info.exact,
        "shortest": info.shortest,
        "abs_error": None,
        "rel_error": None,
        "ulp_error": None,
        "ulp": to_float(info.ulp),
        "prev": info.prev,
        "next": info.next,
        "flags": [],
    }
    if isinstance(r, EncodeResult):
        rec.update(
            abs_error=to_float(r.abs_error),
            rel_error=to_float(r.rel_error),
            ulp_error=to_float(r.ulp_error),
            flags=list(r.flags),
        )
    if info.scale is not None or info.zero_point is not None:
        rec["scale"] = to_float(info.scale) if info.scale is not None else 1.0
        rec["zero_point"] = info.zero_point or 0
    return rec


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "|".join(str(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


class RecordWriter:
    """Streams records as json (array or single object), ndjson, csv or plain lines."""

    def __init__(self, out: IO[str], mode: str, keys: tuple[str, ...], plain_key: str,
                 single: bool = False) -> None:
        import json

        self.out, self.mode, self.keys, self.plain_key = out, mode, keys, plain_key
        self.single = single
        self.count = 0
        self._json = json

    def write(self, rec: dict[str, Any]) -> None:
        self.write_rendered(self.render(rec))

    def render(self, rec: dict[str, Any]) -> str:
        """One record's own text: what write() adds besides the json separators and the csv
        header (ndjson, csv and plain: a whole line; json: the indented object)."""
        m = self.mode
        if m == "ndjson":
            return dumps(rec) + "\n"
        if m == "json":
            body = self._json.dumps(rec, indent=2, ensure_ascii=False, allow_nan=False)
            return body if self.single else _indent(body)
        if m == "csv":
            if "error" in rec and len(rec) == 2:
                row = [rec["input"] if k == "input" else "" for k in self.keys] + [rec["error"]]
            else:
                row = [_csv_cell(rec.get(k)) for k in self.keys] + [""]
            return _csv_line(row)
        # plain: one field, or several tab-separated ("format,hex" for compare)
        if "error" in rec and len(rec) == 2:
            return "error\n"
        return "\t".join(_csv_cell(rec.get(k)) for k in self.plain_key.split(",")) + "\n"

    def write_rendered(self, text: str) -> None:
        """Write a record rendered by render() (or filled in from a RecordTemplate)."""
        m = self.mode
        if m == "json" and not self.single:
            text = ("[\n" if self.count == 0 else ",\n") + text
        elif m == "csv" and self.count == 0:
            text = _csv_line([*self.keys, "error"]) + text
        self.out.write(text)
        self.count += 1

    def write_mixed(self, items: list[Any]) -> None:
        """write_many for a list of rendered records (str) and Blocks of records already
        rendered as bytes (ndjson / csv: no separators between records)."""
        run: list[str] = []
        for r in items:
            if isinstance(r, str):
                run.append(r)
                continue
            self.write_many(run)
            run = []
            if self.mode == "csv" and self.count == 0:
                self.out.write(_csv_line([*self.keys, "error"]))
            buf = getattr(self.out, "buffer", None)
            if buf is None:
                self.out.write(r.data.decode())
            else:
                self.out.flush()
                buf.write(r.data)
            self.count += r.records
        self.write_many(run)

    def write_many(self, texts: list[str]) -> None:
        """write_rendered for many records at once (one write call)."""
        if not texts:
            return
        m = self.mode
        if m == "json" and not self.single:
            head = "[\n" if self.count == 0 else ",\n"
            self.out.write(head + ",\n".join(texts))
        else:
            if m == "csv" and self.count == 0:
                self.out.write(_csv_line([*self.keys, "error"]))
            self.out.write("".join(texts))
        self.count += len(texts)

    def template(self, rec: dict[str, Any], holes: tuple[str, ...]) -> RecordTemplate:
        """The record rendered with the fields in holes left open (see RecordTemplate)."""
        marked = dict(rec)
        for k in holes:
            marked[k] = f"\x01{k}\x01"
        text = self.render(marked)
        pieces = []
        for k in holes:
            mark = self._json.dumps(marked[k]) if self.mode in ("json", "ndjson") else marked[k]
            before, found, text = text.partition(mark)
            if not found:
                raise ValueError(f"field {k} is not in this output")
            pieces.append(before)
        pieces.append(text)
        return RecordTemplate(tuple(pieces), self.mode in ("json", "ndjson"))

    def close(self) -> None:
        if self.mode == "json":
            if self.single:
                self.out.write("\n")
            else:
                self.out.write("[]\n" if self.count == 0 else "\n]\n")
        elif self.mode == "csv" and self.count == 0:
            self.out.write(_csv_line([*self.keys, "error"]))
        self.out.flush()


class RecordTemplate(Record):
    """A rendered record with holes: pieces[0] + cell(v0) + pieces[1] + ... + pieces[-1].

    Built by rendering the record itself with marker values in the holes, so filling a
    hole with ``cell(value)`` gives exactly what RecordWriter.render would have written
    (the hole values must be scalars: str, float, int or None)."""

    pieces: tuple[str, ...]
    json: bool

    def cell(self, v: Any) -> str:
        if self.json:
            return dumps(v)
        return _csv_quote(_csv_cell(v))


def _csv_line(row: list[str]) -> str:
    return ",".join(map(_csv_quote, row)) + "\n"


_CSV_SPECIAL = frozenset(',"\r\n')


def _csv_quote(cell: str) -> str:
    """One cell as csv.writer (lineterminator '\\n') writes it: as it is unless it holds
    one of , " CR LF, and then through csv itself (whose CR rule varies by version)."""
    if _CSV_SPECIAL.isdisjoint(cell):
        return cell
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([cell, ""])
    return buf.getvalue()[:-2]  # drop the "," of the empty second cell and the "\n"


def _indent(s: str) -> str:
    return "\n".join("  " + line for line in s.splitlines())


def write_table_rows(out: IO[str], mode: str, keys: tuple[str, ...],
                     rows: Iterable[dict[str, Any]], single: bool = False) -> None:
    """Whole-collection writer for the small outputs of `info`."""
    import csv
    import json

    if mode == "plain":
        mode = "tsv"
    rows = list(rows)
    if mode == "json":
        obj: Any = rows[0] if single and len(rows) == 1 else rows
        out.write(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    elif mode == "ndjson":
        for r in rows:
            out.write(dumps(r) + "\n")
    elif mode == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(keys)
        for r in rows:
            w.writerow([escape_controls(_csv_cell(r.get(k))) for k in keys])
    else:
        out.write("\t".join(keys) + "\n")
        for r in rows:
            out.write("\t".join(escape_controls(_csv_cell(r.get(k))) for k in keys) + "\n")


FORMAT_CODE_KEYS = ("format", "code", "hex", "bits", "class", "value", "exact")


def code_record(info: CodeInfo) -> dict[str, Any]:
    """One row of `info --values`."""
    return {
        "format": info.format.name,
        "code": info.code,
        "hex": info.hex,
        "bits": info.bits,
        "class": info.cls,
        "value": info.value,
        "exact": info.exact,
    }
