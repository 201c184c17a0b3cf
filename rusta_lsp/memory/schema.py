"""Arrow schemas of the memory's tables, and the version that guards them.

Derived tables (files, items, refs, passages, vectors) can be rebuilt from the workspace at any
time, so a version mismatch or corruption just drops them. History tables (devlog, exemplars,
principles, drills, tests) cannot be rebuilt: their payload is JSON so their schema rarely has to change.
"""

from __future__ import annotations

import pyarrow as pa

# Bump when a derived table's columns or their meaning change: memories written by another
# version are rebuilt from the workspace on open.
SCHEMA_VERSION = 1

_s = pa.string
_i = pa.int32
_b = pa.bool_

FILES = pa.schema(
    [
        ("path", _s()),
        ("hash", _s()),  # sha256 of the indexed content (disk or open buffer)
        ("kind", _s()),  # "rust" | "doc"
        ("lines", _i()),
        ("items", _i()),
    ]
)

ITEMS = pa.schema(
    [
        ("path", _s()),
        ("qualified", _s()),
        ("name", _s()),
        ("kind", _s()),
        ("signature", _s()),
        ("doc", _s()),
        ("start_line", _i()),
        ("end_line", _i()),
        ("doc_start_line", _i()),
        ("doc_end_line", _i()),
        ("is_test", _b()),
        ("parent", _s()),
        ("impl_type", _s()),
        ("trait_name", _s()),
        ("visibility", _s()),
        ("search_text", _s()),  # what full-text search sees: words of the path, signature, doc
        ("embed_text", _s()),  # what the embedder sees: path, signature, doc, head of the body
        ("text_hash", _s()),  # key into `vectors`: unchanged text keeps its vector across edits
    ]
)

REFS = pa.schema(
    [
        ("path", _s()),
        ("name", _s()),
        ("kind", _s()),
        ("qualifier", _s()),
        ("line", _i()),
        ("col", _i()),
        ("end_line", _i()),
        ("end_col", _i()),
        ("enclosing", _s()),
        ("in_test", _b()),
    ]
)

PASSAGES = pa.schema(
    [
        ("path", _s()),
        ("start_line", _i()),
        ("end_line", _i()),
        ("text", _s()),
        ("text_hash", _s()),
    ]
)

META = pa.schema([("key", _s()), ("value", _s())])


def vectors_schema(dim: int) -> pa.Schema:
    return pa.schema([("text_hash", _s()), ("vector", pa.list_(pa.float32(), dim))])


DEVLOG = pa.schema(
    [
        ("ts", pa.float64()),  # unix seconds
        ("kind", _s()),
        ("path", _s()),
        ("line", _i()),
        ("payload", _s()),  # JSON object
    ]
)

# exemplars, principles, drills, tests: one JSON document per key. `tests` holds each test's
# outcome at the last green state (the workspace compiled and the heartbeat ran the suite).
KEYED = pa.schema([("key", _s()), ("ts", pa.float64()), ("payload", _s())])

DERIVED = {"files": FILES, "items": ITEMS, "refs": REFS, "passages": PASSAGES, "meta": META}
KEYED_TABLES = ("exemplars", "principles", "drills", "tests")
HISTORY = {"devlog": DEVLOG, **{name: KEYED for name in KEYED_TABLES}}
