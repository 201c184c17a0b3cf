"""rustc's JSON diagnostics: real cargo output of a broken example, and suggestion splitting."""

from __future__ import annotations

import json
import subprocess

from patches_support import SHARED_TARGET, copy_example

from rusta_lsp.analysis.positions import LineIndex
from rusta_lsp.patches.diagnostics import parse_cargo_messages, parse_diagnostic


def _cargo_json(root):
    out = subprocess.run(
        ["cargo", "check", "--all-targets", "--message-format=json"], cwd=root, capture_output=True,
        text=True, env={**__import__("os").environ, "CARGO_TARGET_DIR": str(SHARED_TARGET)},
    )
    return out.stdout.splitlines()


def test_real_cargo_stream_parsed_in_full(tmp_path):
    root = copy_example("broken-imports", tmp_path / "ws")
    result = parse_cargo_messages(_cargo_json(root))
    assert result.success is False
    errors = result.errors
    # lib and lib-test report the same errors: each appears once.
    assert len({d.key for d in errors}) == len(errors)
    codes = sorted(d.code for d in errors)
    assert codes == ["E0425", "E0425", "E0433", "E0433", "E0599"]
    source = (root / "src/lib.rs").read_bytes()
    index = LineIndex(source)
    for diag in errors:
        span = diag.primary
        assert span.path == "src/lib.rs"
        # rustc's line/column (scalar values) agree with the byte offsets it reports.
        pos = index.pos(span.byte_start)
        assert (pos.line, pos.col) == (span.line_start, span.col_start)
    write = next(d for d in errors if d.code == "E0599")
    line = source.splitlines()[write.primary.line_start - 1].decode()
    # The error sits after «héllo»: columns count characters, not bytes.
    assert line[write.primary.col_start - 1 :].startswith("write_all")
    assert len(line[: write.primary.col_start - 1].encode()) > write.primary.col_start - 1
    [trait] = [s for s in write.suggestions() if "use std::io::Write" in s.parts[0].new_text]
    assert trait.applicability == "MaybeIncorrect"
    assert trait.parts[0].byte_start == trait.parts[0].byte_end  # an insertion
    assert any(c.level == "help" for c in write.children)


def _span(start, end, text, applicability="MaybeIncorrect"):
    return {"file_name": "src/lib.rs", "byte_start": start, "byte_end": end, "line_start": 1,
            "line_end": 1, "column_start": start + 1, "column_end": end + 1, "is_primary": True,
            "text": [], "label": None, "suggested_replacement": text,
            "suggestion_applicability": applicability, "expansion": None}


def test_alternatives_split_and_multipart_kept_together():
    message = {
        "message": "mismatched types", "code": {"code": "E0308", "explanation": None}, "level": "error",
        "spans": [_span(10, 11, None)],
        "children": [
            # one multipart suggestion: wrap in parentheses and add a cast
            {"message": "you can convert", "code": None, "level": "help", "children": [], "rendered": None,
             "spans": [_span(10, 10, "("), _span(11, 11, ") as u64", "MachineApplicable")]},
            # two alternatives at the same place
            {"message": "consider importing one of these", "code": None, "level": "help", "children": [],
             "rendered": None, "spans": [_span(0, 0, "use std::fmt::Write;\n"), _span(0, 0, "use std::io::Write;\n")]},
        ],
        "rendered": "error",
    }
    diag = parse_diagnostic(json.loads(json.dumps(message)))
    sugs = diag.suggestions()
    assert [len(s.parts) for s in sugs] == [2, 1, 1]
    # A suggestion is only as applicable as its weakest part.
    assert sugs[0].applicability == "MaybeIncorrect"
    assert [s.parts[0].new_text for s in sugs[1:]] == ["use std::fmt::Write;\n", "use std::io::Write;\n"]


def test_garbage_lines_and_non_compiler_messages_are_skipped():
    lines = ["not json", "{broken", json.dumps({"reason": "compiler-artifact"}),
             json.dumps({"reason": "build-finished", "success": True})]
    result = parse_cargo_messages(lines)
    assert result.diagnostics == [] and result.success is True


def test_one_error_reported_by_lib_and_test_harness_in_other_words_is_one(tmp_path):
    # The test harness sees `Ledger` through `use super::*`, the library as `store::Ledger`:
    # "no field `applide` on type `&mut store::Ledger`" and "... `&mut Ledger`" are one error.
    root = copy_example("ledger", tmp_path / "ws")
    store = root / "src/store.rs"
    store.write_text(store.read_text().replace("self.applied.push(entry);", "self.applide.push(entry);"))
    lines = _cargo_json(root)
    reported = [json.loads(line)["message"]["message"] for line in lines if '"compiler-message"' in line]
    assert {m for m in reported if "applide" in m} == {"no field `applide` on type `&mut store::Ledger`",
                                                       "no field `applide` on type `&mut Ledger`"}
    [error] = parse_cargo_messages(lines).errors
    assert error.message == "no field `applide` on type `&mut store::Ledger`"  # the library's own words
    assert parse_cargo_messages(reversed(lines)).errors == [error]  # whichever target came first
