import assert from "node:assert/strict";
import { test } from "node:test";
import { explainMarkdown, ExplainResult, parseAnchorLink } from "../../explain";

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
  const md = explainMarkdown(result);
  assert.match(md, /^# Ledger::post/);
  assert.match(md, /- definition: \[src\/lib\.rs:10-14\]\(src\/lib\.rs#L10-L14\)/);
  assert.match(md, /- reference: \[src\/main\.rs:3\]\(src\/main\.rs#L3\)/);
  assert.equal(md.match(/src\/lib\.rs:10-14/g)?.length, 1);
});

test("an abstention shows its reason and no evidence", () => {
  const md = explainMarkdown({ symbol: "x", abstained: true, reason: "macro-generated item", claims: [], markdown: "" });
  assert.match(md, /abstained: macro-generated item/);
  assert.doesNotMatch(md, /Evidence/);
});

test("anchor links parse back to paths and lines; anything else is not an anchor", () => {
  assert.deepEqual(parseAnchorLink("src/lib.rs#L10-L14"), { path: "src/lib.rs", startLine: 10, endLine: 14 });
  assert.deepEqual(parseAnchorLink("src/caf%C3%A9.rs#L3"), { path: "src/café.rs", startLine: 3, endLine: 3 });
  for (const href of ["https://example.com/a.rs#L1", "/etc/passwd#L1", "../x.rs#L1", "src/lib.rs", "src/lib.rs#top"]) {
    assert.equal(parseAnchorLink(href), undefined, href);
  }
});
