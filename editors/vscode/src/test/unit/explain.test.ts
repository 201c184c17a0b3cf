import assert from "node:assert/strict";
import { test } from "node:test";
import { explainMarkdown, ExplainResult } from "../../explain";

const result: ExplainResult = {
  symbol: "Ledger::post",
  abstained: false,
  reason: null,
  claims: [
    { text: "fn post(&mut self, entry: Entry)", anchors: [{ path: "src/lib.rs", start_line: 10, end_line: 14, kind: "definition" }] },
    {
      text: "called from main",
      anchors: [
        { path: "src/main.rs", start_line: 3, end_line: 3, kind: "reference" },
        { path: "src/lib.rs", start_line: 10, end_line: 14, kind: "definition" },
      ],
    },
  ],
  markdown: "**Ledger::post** posts an entry.",
};

test("anchors become one link each, deduplicated", () => {
  const md = explainMarkdown(result, (a) => `file:///ws/${a.path}#L${a.start_line}`);
  assert.match(md, /^# Ledger::post/);
  assert.match(md, /- definition: \[src\/lib\.rs:10-14\]\(file:\/\/\/ws\/src\/lib\.rs#L10\)/);
  assert.match(md, /- reference: \[src\/main\.rs:3\]\(file:\/\/\/ws\/src\/main\.rs#L3\)/);
  assert.equal(md.match(/src\/lib\.rs:10-14/g)?.length, 1);
});

test("an abstention shows its reason and no evidence", () => {
  const md = explainMarkdown(
    { symbol: "x", abstained: true, reason: "macro-generated item", claims: [], markdown: "" },
    () => "unused",
  );
  assert.match(md, /abstained: macro-generated item/);
  assert.doesNotMatch(md, /Evidence/);
});
