"""Specialised Avro readers (专用解码器): one generated Python function per current schema.

fastavro's `schemaless_reader` walks the schema for every record: for a case event (74
values, 34 of them unions) that is most of a projection rebuild's decoding time. `compile_reader`
turns a parsed schema into straight-line code instead (a record is a dict display, a
`["null", "string"]` union an `if`), about twice as fast, with the same result: the same
dicts, the same Python types, decimals through fastavro's own `read_decimal`.

It only reads what it can read exactly. Anything it does not expect (a negative length, a
union or enum index out of range, invalid UTF-8, a body too short) raises, and
`schemas.codec.Codec.decode` then decodes the record with fastavro again, so malformed input
gets fastavro's answer and its error message. Records written with an older (released)
schema need schema resolution and always go through fastavro.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from fastavro._logical_readers_py import read_decimal

Reader = Callable[[bytes, int], "tuple[Any, int]"]


def _long(d: bytes, p: int) -> tuple[int, int]:
    """A zig-zag varint at p: (value, position after it)."""
    b = d[p]
    p += 1
    n, shift = b & 0x7F, 7
    while b & 0x80:
        b = d[p]
        p += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise ValueError("varint longer than 10 bytes")
    return (n >> 1) ^ -(n & 1), p


def _count(d: bytes, p: int) -> tuple[int, int]:
    """A length or an index: a varint that must not be negative."""
    n, p = _long(d, p)
    if n < 0:
        raise ValueError(f"negative length or index {n}")
    return n, p


class _Gen:
    def __init__(self):
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self._n = itertools.count()

    def var(self) -> str:
        return f"v{next(self._n)}"

    def const(self, value) -> str:
        name = f"c{next(self._n)}"
        self.consts[name] = value
        return name

    def emit(self, ind: int, line: str) -> None:
        self.lines.append("    " * ind + line)

    def long(self, ind: int, target: str) -> None:
        # one-byte varints (-64..63) inline: nearly every length, index and count
        self.emit(ind, "b = d[p]")
        self.emit(ind, "if b < 128:")
        self.emit(ind + 1, f"{target} = (b >> 1) ^ -(b & 1); p += 1")
        self.emit(ind, "else:")
        self.emit(ind + 1, f"{target}, p = _long(d, p)")

    def count(self, ind: int, target: str) -> None:
        self.emit(ind, "b = d[p]")
        self.emit(ind, "if b < 128 and not b & 1:")
        self.emit(ind + 1, f"{target} = b >> 1; p += 1")
        self.emit(ind, "else:")
        self.emit(ind + 1, f"{target}, p = _count(d, p)")

    def read(self, t, ind: int, target: str, named: dict) -> None:
        if isinstance(t, str):
            if t in named:
                return self.read(named[t], ind, target, named)
            if t == "null":
                self.emit(ind, f"{target} = None")
            elif t == "boolean":
                self.emit(ind, f"{target} = d[p] != 0; p += 1")  # fastavro: any non-zero byte is true
            elif t in ("int", "long"):
                self.long(ind, target)
            elif t in ("string", "bytes"):
                n = self.var()
                self.count(ind, n)
                self.emit(ind, f"if p + {n} > size: raise ValueError('body too short')")
                self.emit(ind, f"{target} = d[p:p + {n}]{'.decode()' if t == 'string' else ''}; p += {n}")
            else:
                raise NotImplementedError(f"Avro type {t}")
            return
        if isinstance(t, list):
            i = self.var()
            self.count(ind, i)
            for k, branch in enumerate(t):
                self.emit(ind, f"{'if' if k == 0 else 'elif'} {i} == {k}:")
                self.read(branch, ind + 1, target, named)
            self.emit(ind, "else:")
            self.emit(ind + 1, f"raise ValueError('union index %d out of range' % {i})")
            return
        kind, logical = t["type"], t.get("logicalType")
        if logical is not None:
            if (kind, logical) != ("bytes", "decimal"):
                raise NotImplementedError(f"Avro logical type {logical} on {kind}")
            raw = self.var()
            self.read("bytes", ind, raw, named)
            self.emit(ind, f"{target} = {self.const(read_decimal)}({raw}, {self.const(t)})")
        elif kind == "record":
            named[t["name"]] = t
            fields = []
            for f in t["fields"]:
                v = self.var()
                self.read(f["type"], ind, v, named)
                fields.append((f["name"], v))
            self.emit(ind, f"{target} = {{" + ", ".join(f"{k!r}: {v}" for k, v in fields) + "}")
        elif kind == "enum":
            named[t["name"]] = t
            i = self.var()
            self.count(ind, i)
            self.emit(ind, f"{target} = {self.const(tuple(t['symbols']))}[{i}]")
        elif kind in ("array", "map"):
            n, out = self.var(), self.var()
            self.emit(ind, f"{out} = {'[]' if kind == 'array' else '{}'}")
            self.long(ind, n)
            self.emit(ind, f"while {n}:")
            self.emit(ind + 1, f"if {n} < 0:")  # a block with its size in bytes after the count
            self.emit(ind + 2, f"{n} = -{n}")
            self.long(ind + 2, self.var())
            self.emit(ind + 1, f"for _ in range({n}):")
            item = self.var()
            if kind == "map":
                k = self.var()
                self.read("string", ind + 2, k, named)
                self.read(t["values"], ind + 2, item, named)
                self.emit(ind + 2, f"{out}[{k}] = {item}")
            else:
                self.read(t["items"], ind + 2, item, named)
                self.emit(ind + 2, f"{out}.append({item})")
            self.long(ind + 1, n)
            self.emit(ind, f"{target} = {out}")
        elif isinstance(kind, (str, list)) and kind in ("null", "boolean", "int", "long", "string", "bytes"):
            self.read(kind, ind, target, named)
        else:
            raise NotImplementedError(f"Avro type {kind}")


def compile_reader(parsed_schema: dict) -> Reader:
    """A function (data, position) -> (value, position after it) for one parsed record schema."""
    g = _Gen()
    g.emit(0, "def read(d, p):")
    g.emit(1, "size = len(d)")
    g.read(parsed_schema, 1, "value", {})
    g.emit(1, "return value, p")
    namespace = {"_long": _long, "_count": _count, **g.consts}
    exec(compile("\n".join(g.lines), f"<avro reader {parsed_schema.get('name')}>", "exec"), namespace)
    return namespace["read"]
