import assert from "node:assert/strict";
import { test } from "node:test";
import { changed, companionReport, EditorDiagnostic } from "../../companion";

const at = (line: number, character: number) => ({ line, character });

test("rust-analyzer's errors in Rust files are counted and handed over; Rusta's hints and others' are not", () => {
  const error: EditorDiagnostic = {
    severity: 0,
    source: "rustc",
    message: "cannot find type `HashMap` in this scope",
    code: { value: "E0412" },
    range: { start: at(17, 14), end: at(17, 21) },
  };
  const report = companionReport([
    ["file:///w/src/store.rs", [error, { ...error, severity: 3, source: "rusta" }, { ...error, severity: 1, message: "unused" }]],
    ["file:///w/src/lib.rs", [{ ...error, source: "rust-analyzer", code: 7 }]],
    ["file:///w/README.md", [{ ...error, source: "markdownlint" }]],
  ]);
  assert.equal(report.errors, 2);
  assert.deepEqual(report.diagnostics[0], {
    uri: "file:///w/src/store.rs",
    range: { start: at(17, 14), end: at(17, 21) },
    message: "cannot find type `HashMap` in this scope",
    code: "E0412",
    source: "rustc",
  });
  assert.equal(report.diagnostics[1].code, "7");
  assert.equal(changed(undefined, report), true);
  assert.equal(changed(report, companionReport([["file:///w/src/store.rs", [error]], ["file:///w/src/lib.rs", [{ ...error, source: "rust-analyzer", code: 7 }]]])), false);
  assert.equal(changed(report, companionReport([])), true);
});
