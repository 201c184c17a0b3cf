"""The analysis on a real crate nobody here wrote: Debian's packaged regex sources."""

from pathlib import Path

import pytest

from rusta_lsp.analysis.workspace import analyze_workspace

REGEX = sorted(Path("/usr/share/cargo/registry").glob("regex-1.*"))


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def regex():
    assert REGEX, "Debian's regex sources are missing: apt-get install librust-regex-dev (make test does)"
    root = REGEX[-1]
    ws, analyses = analyze_workspace(root)
    items = {}
    for a in analyses:
        for i in a.items:
            items.setdefault(i.path, []).append((a.path, i))
    return root, ws, analyses, items


def test_regex_new_has_its_path_and_line(regex):
    root, _, _, items = regex
    (path, new), = items["crate::re_unicode::Regex::new"]
    assert path == "src/re_unicode.rs"
    assert new.kind == "method" and new.impl_type == "Regex"
    assert new.name_span.start.line == line_of(root / path, "pub fn new(re: &str) -> Result<Regex, Error>")
    assert new.signature == "pub fn new(re: &str) -> Result<Regex, Error>"
    assert new.doc.startswith("Compiles a regular expression.")


def test_regex_set_is_found_inside_its_macro_template(regex):
    root, _, _, items = regex
    for module in ("unicode", "bytes"):
        (path, regex_set), = items[f"crate::re_set::{module}::RegexSet"]
        assert path == "src/re_set.rs" and regex_set.kind == "struct"
        assert regex_set.name_span.start.line == line_of(root / path, "pub struct RegexSet(")
        (_, new), = items[f"crate::re_set::{module}::RegexSet::new"]
        assert new.kind == "method"


def test_whole_crate_is_covered(regex):
    _, ws, analyses, items = regex
    assert ws.crates[0].name == "regex"
    assert {t.kind for t in ws.crates[0].targets} >= {"lib", "test"}
    assert sum(a.line_count for a in analyses) > 15_000
    assert all(not a.skipped for a in analyses)
    assert "crate::RegexBuilder" not in items  # re-exported, defined elsewhere
    assert any(p.endswith("::RegexBuilder") for p in items)
