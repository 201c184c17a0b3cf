"""The anchor verifier: a claim survives only if its anchors hold in the current files."""


import re
from pathlib import Path

import pytest

from explain_support import explain_at, index, position, write_shop
from rusta_lsp.analysis.workspace import discover_workspace
from rusta_lsp.explain.claims import Anchor, Claim
from rusta_lsp.explain.catalog import Catalog
from rusta_lsp.explain.engine import Explainer, Layout
from rusta_lsp.explain.verify import SourceReader, anchor_holds, verify
from rusta_lsp.memory.ingest import Ingestor


@pytest.fixture
def files(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.rs").write_text("/// Makes   a\n/// widget.\npub fn make() {}\n")
    (tmp_path.parent / "outside.rs").write_text("pub fn make() {}\n")
    return tmp_path


@pytest.mark.parametrize("anchor,holds", [
    (Anchor("src/a.rs", 3, 3, "definition", "make"), True),
    (Anchor("src/a.rs", 1, 2, "doc", "Makes a"), True),  # runs of whitespace compare equal
    (Anchor("src/a.rs", 1, 1, "definition", "make"), False),  # the text is not there
    (Anchor("src/a.rs", 3, 9, "definition", "make"), False),  # range runs past the end
    (Anchor("src/a.rs", 0, 1, "definition", ""), False),  # lines are 1-based
    (Anchor("src/a.rs", 3, 2, "definition", ""), False),  # inverted range
    (Anchor("src/b.rs", 1, 1, "definition", ""), False),  # no such file
    (Anchor("../outside.rs", 1, 1, "definition", "make"), False),  # never outside the workspace
])
def test_anchor_holds_only_against_the_current_text(files, anchor, holds):
    assert anchor_holds(anchor, SourceReader(files)) is holds


def test_open_buffer_wins_over_the_disk(files):
    reader = SourceReader(files, lambda rel: "pub fn renamed() {}\n" if rel == "src/a.rs" else None)
    assert not anchor_holds(Anchor("src/a.rs", 3, 3, "definition", "make"), reader)
    assert anchor_holds(Anchor("src/a.rs", 1, 1, "definition", "renamed"), reader)


def test_a_claim_with_one_bad_anchor_is_dropped(files):
    good = Anchor("src/a.rs", 3, 3, "definition", "make")
    bad = Anchor("src/a.rs", 1, 1, "reference", "make")
    kept, dropped = verify([Claim("ok", [good]), Claim("mixed", [good, bad]), Claim("bare", [])], SourceReader(files))
    assert [c.text for c in kept] == ["ok"]
    assert [c.text for c in dropped] == ["mixed", "bare"]


@pytest.fixture
def indexed(tmp_path):
    root = write_shop(tmp_path / "shop")
    memory = index(root, tmp_path / "memory")
    explainer = Explainer(Catalog(memory), root, Layout.of(discover_workspace(root)))
    yield root, memory, explainer
    memory.close()


def _explain(root, explainer, rel, needle, delta):
    line, col = position(root, rel, needle, delta)
    explainer.invalidate()  # what the server does when files change
    return explain_at(explainer, rel, (root / rel).read_bytes(), line, col)


def _kinds(explanation):
    return [c.anchors[0].kind for c in explanation.claims]


def test_stale_reference_and_deleted_readme_are_dropped_after_edits(indexed):
    root, memory, explainer = indexed
    before = _explain(root, explainer, "src/store.rs", "fn new", 3)
    assert "reference" in _kinds(before) and "test" in _kinds(before)
    ledger = _explain(root, explainer, "src/store.rs", "pub struct Ledger", 11)
    assert "related" in _kinds(ledger)

    # Edit the caller and delete the README on disk; the memory still has the old rows.
    lib = root / "src/lib.rs"
    lib.write_text(lib.read_text().replace("Ledger::new()", "Ledger { total: 0 }"))
    (root / "README.md").unlink()

    after = _explain(root, explainer, "src/store.rs", "fn new", 3)
    assert "reference" not in _kinds(after)
    assert "test" in _kinds(after) and "definition" in _kinds(after)
    assert any(a.kind == "reference" and a.path == "src/lib.rs" for c in after.dropped for a in c.anchors)
    ledger = _explain(root, explainer, "src/store.rs", "pub struct Ledger", 11)
    assert "related" not in _kinds(ledger)


def test_moved_definition_abstains_until_reindexed(indexed):
    root, memory, explainer = indexed
    store = root / "src/store.rs"
    store.write_text("// moved down\n" * 5 + store.read_text())
    stale = _explain(root, explainer, "src/lib.rs", "Ledger::new", 8)
    assert stale.abstained and "does not match the current src/store.rs" in stale.reason
    assert stale.claims == []

    Ingestor(memory, root).update_paths(["src/store.rs"], embed=False)
    fresh = _explain(root, explainer, "src/lib.rs", "Ledger::new", 8)
    assert not fresh.abstained
    assert fresh.claims[0].anchors[0].start_line == 15  # five lines further down


def test_devlog_history_becomes_anchored_claims(indexed):
    root, memory, explainer = indexed
    line, _ = position(root, "src/store.rs", "self.total += amount")
    for _ in range(2):  # the user applied Rusta's patch for E0382 here, twice
        memory.log_event("patch_outcome", {"code": "E0382", "source": "rustc", "correct": True}, "src/store.rs", line).result()
    memory.log_event("patch_outcome", {"code": "E0308", "source": "rustc", "correct": False}, "src/store.rs", line).result()
    memory.log_event("patch_outcome", {"code": "E0599", "correct": True, "drill": True}, "src/store.rs", line).result()
    memory.log_event("drill", {"code": "E0599", "outcome": "restored"}, "src/store.rs", line).result()
    memory.log_event("patch_outcome", {"code": "E0499", "correct": True}, "src/item.rs", 3).result()  # elsewhere
    memory.flush()
    explanation = _explain(root, explainer, "src/lib.rs", "ledger.apply", 7)
    history = [c for c in explanation.claims if c.anchors[0].kind == "history"]
    assert [c.text for c in history] == [
        "E0382 was fixed here twice.",
        "A suggested fix for E0308 was rejected here once.",
        "A drill broke this code with E0599 once; it was fixed.",
    ]
    assert history[0].anchors[0].path == "src/store.rs" and history[0].anchors[0].start_line <= line


REGISTRY = Path("/usr/share/cargo/registry")
# Files of real crates whose doc comments write Markdown: backticks, links, `#[doc = "..."]`
# (serde's primitive deserializers, expanded from a macro_rules!), multi-paragraph docs.
DOCUMENTED = [("serde_json-1.0.87", "src/value/mod.rs"), ("regex-1.7.1", "src/re_unicode.rs"),
              ("serde-1.0.152", "src/de/value.rs"), ("regex-1.7.1", "src/re_set.rs")]


@pytest.mark.skipif(not all((REGISTRY / c / f).is_file() for c, f in DOCUMENTED),
                    reason="librust-regex-dev and librust-serde-json-dev are needed")
@pytest.mark.parametrize("crate,rel", DOCUMENTED)
def test_every_doc_claim_of_a_documented_item_holds(crate, rel):
    from rusta_lsp.analysis.parser import analyze_source
    from rusta_lsp.explain.claims import doc_claim
    from rusta_lsp.explain.resolve import record_of

    root = REGISTRY / crate
    analysis = analyze_source((root / rel).read_bytes(), rel, "crate")
    claims = [doc_claim(record_of(item, rel)) for item in analysis.items if item.doc.strip()]
    assert len(claims) > 10
    kept, dropped = verify(claims, SourceReader(root))
    assert dropped == []
    # The same claims fail once the first word of each comment line changes: the check still bites.
    edited = re.sub(r'(///|#\[doc = ")([^\w\n]*)(\w)', r"\1\2Formerly\3", (root / rel).read_text())
    _, stale = verify(claims, SourceReader(root, lambda path: edited if path == rel else None))
    assert len(stale) == len(claims)


@pytest.mark.skipif(not (REGISTRY / "serde_json-1.0.87").is_dir(), reason="librust-serde-json-dev is needed")
@pytest.mark.parametrize("rel,name,kind,text,line", [
    # backticks in the first words: the example
    ("src/value/mod.rs", "as_null", "method", "If the `Value` is a Null, returns ().", 711),
    # a multi-paragraph doc (examples, `# Errors`): its first paragraph's first sentence
    ("src/de.rs", "from_str", "fn", "Deserialize an instance of type `T` from a string of JSON text.", None),
])
def test_doc_claims_with_markdown_keep_their_words(rel, name, kind, text, line):
    from rusta_lsp.analysis.parser import analyze_source
    from rusta_lsp.explain.claims import doc_claim
    from rusta_lsp.explain.resolve import record_of

    root = REGISTRY / "serde_json-1.0.87"
    item = next(i for i in analyze_source((root / rel).read_bytes(), rel, "crate").items
                if i.name == name and i.kind == kind and i.doc)
    claim = doc_claim(record_of(item, rel))
    assert claim.text.removeprefix("Docs: ") == text.removeprefix("Docs: ")
    assert line is None or claim.anchors[0].start_line == line
    assert "\n\n" in item.doc or line is not None
    kept, _ = verify([claim], SourceReader(root))
    assert kept == [claim]


def test_git_history_names_the_commit_that_last_changed_the_item(tmp_path):
    """In a git repository, an item's explanation says when its lines last changed and by which
    commit; lines edited in the buffer but not committed have no commit to name."""
    import subprocess

    root = write_shop(tmp_path / "shop")

    def git(*args, day="2024-02-01"):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                       env={"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
                            "GIT_COMMITTER_EMAIL": "a@b", "GIT_AUTHOR_DATE": f"{day}T12:00:00Z",
                            "GIT_COMMITTER_DATE": f"{day}T12:00:00Z", "PATH": "/usr/bin:/bin"})

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "The shop")
    store = root / "src/store.rs"
    store.write_text(store.read_text().replace("self.total += amount;", "self.total += amount; // saturates?"))
    git("commit", "-q", "-am", "Ask whether apply saturates", day="2024-03-01")
    memory = index(root, tmp_path / "memory")
    explainer = Explainer(Catalog(memory), root, Layout.of(discover_workspace(root)))
    line, col = position(root, "src/store.rs", "fn apply(&mut self", 3)
    explanation = explain_at(explainer, "src/store.rs", store.read_bytes(), line, col)
    history = [c for c in explanation.claims if c.anchors[0].kind == "history"]
    assert len(history) == 1, [c.text for c in explanation.claims]
    assert history[0].text.startswith("Last changed on 2024-03-01 by commit `")
    assert "“Ask whether apply saturates” (1 of its lines); 1 earlier commit wrote the rest." in history[0].text
    anchor = history[0].anchors[0]
    assert "saturates" in store.read_text().split("\n")[anchor.start_line - 1]
    # Edited in the buffer, not committed: that line has no commit; the older ones still speak.
    edited = store.read_text().replace("// saturates?", "// wraps")
    explanation = explain_at(explainer, "src/store.rs", edited.encode(), line, col)
    history = [c for c in explanation.claims if c.anchors[0].kind == "history"]
    assert history and history[0].text.startswith("Last changed on 2024-02-01") and "“The shop”" in history[0].text
    memory.close()
