"""E0599 "trait not in scope" on real crates: the imports generator proposes a `use` of the
workspace trait that declares the method (from the memory, ingested after the edit as the
server's memory follows the buffer), and cargo verifies it in the shadow."""

from __future__ import annotations

import pytest
from debian_crates import REGISTRY, copy_debian_crate
from patches_support import config_for

from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.generators import GenContext, imports

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (REGISTRY / "petgraph-0.6.2").is_dir(),
                                                   reason="Debian crate sources not installed")]


def fix_without_import(tmp_path, crate: str, rel: str, use_line: str):
    """Remove `use_line` from `rel` in a copy of `crate`; the E0599 fixes that only the imports
    generator may answer, their report and the memory."""
    root = copy_debian_crate(crate, tmp_path / "ws")
    source = root / rel
    text = source.read_text()
    assert use_line in text
    source.write_text(text.replace(use_line, "", 1))
    memory = Memory.open(str(tmp_path / "memory"), root)
    Ingestor(memory, root).run(embed=False)
    engine = PatchEngine(root, config_for(tmp_path / "memory"), memory=memory, generators=(imports,))
    report = engine.fix()
    return [f for f in report.fixes if f.diagnostic.code == "E0599"], report, memory


def test_method_of_a_workspace_trait_not_in_scope_gets_the_trait_imported(tmp_path):
    # bytes calls `AtomicMut::with_mut` on `AtomicPtr` in three places of src/bytes.rs.
    fixes, report, memory = fix_without_import(
        tmp_path, "bytes-1.2.1", "src/bytes.rs", "use crate::loom::sync::atomic::AtomicMut;\n")
    try:
        assert len(fixes) == 3 and all("no method named `with_mut`" in f.diagnostic.message for f in fixes)
        ctx = GenContext(report.contents, memory=memory, errors=[f.diagnostic for f in report.fixes])
        proposed = imports.generate(fixes[0].diagnostic, ctx)
        assert [c.title for c in proposed] == ["add `use crate::loom::sync::atomic::AtomicMut;`"]
        assert [e.new_text for e in proposed[0].edits] == ["use crate::loom::sync::atomic::AtomicMut;\n"]
        for fix in fixes:
            assert [(p.title, p.source, p.verified) for p in fix.patches] == [
                ("add `use crate::loom::sync::atomic::AtomicMut;`", "imports", True)]
    finally:
        memory.close()


def test_trait_in_a_private_module_is_imported_through_its_re_export(tmp_path):
    # petgraph's `Walker` lives in the private `visit::traversal`, re-exported by `visit`: the
    # trait's own path does not resolve from `algo`; the path other files import it by does.
    fixes, report, memory = fix_without_import(tmp_path, "petgraph-0.6.2", "src/algo/mod.rs", "use crate::visit::Walker;\n")
    try:
        [fix] = fixes
        assert "no method named `iter`" in fix.diagnostic.message
        ctx = GenContext(report.contents, memory=memory, errors=[f.diagnostic for f in report.fixes])
        assert [c.title for c in imports.generate(fix.diagnostic, ctx)] == [
            "add `use crate::visit::Walker;`", "add `use crate::visit::traversal::Walker;`"]
        assert fix.tried == 2
        assert [(p.title, p.verified) for p in fix.patches] == [("add `use crate::visit::Walker;`", True)]
    finally:
        memory.close()
