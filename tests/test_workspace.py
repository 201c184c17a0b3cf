"""Workspace discovery: members, targets, mod.rs layouts, #[path], inline modules."""

from pathlib import Path

from rusta_lsp.analysis.workspace import analyze_workspace, discover_workspace, find_workspace_root, is_watched


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_workspace_members_targets_and_module_tree(tmp_path):
    write(tmp_path, {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n',
        "crates/core/Cargo.toml": '[package]\nname = "core-lib"\nversion = "0.1.0"\n',
        "crates/core/src/lib.rs": 'mod a;\nmod b;\n#[path = "weird/place.rs"]\nmod c;\nmod d { mod e; }\n',
        "crates/core/src/a.rs": "mod child;\n",
        "crates/core/src/a/child.rs": "pub fn deep() {}\n",
        "crates/core/src/b/mod.rs": "mod inner;\n",
        "crates/core/src/b/inner.rs": "pub struct Inner;\n",
        "crates/core/src/weird/place.rs": "pub fn placed() {}\n",
        "crates/core/src/d/e.rs": "pub fn inline_child() {}\n",
        "crates/core/src/orphan.rs": "pub fn unreached() {}\n",
        "crates/core/tests/smoke.rs": "#[test] fn t() {}\n",
        "crates/core/examples/demo.rs": "fn main() {}\n",
        "crates/core/target/debug/build/x.rs": "fn generated() {}\n",
        "crates/app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\n',
        "crates/app/src/main.rs": "fn main() {}\n",
        "crates/app/src/bin/tool.rs": "fn main() {}\n",
    })
    ws = discover_workspace(tmp_path)
    assert sorted(c.name for c in ws.crates) == ["app", "core-lib"]
    modules = {f.path: (f.module_path, f.target) for f in ws.files}
    assert modules == {
        "crates/app/src/main.rs": ("crate", "bin"),
        "crates/app/src/bin/tool.rs": ("crate", "bin"),
        "crates/core/src/lib.rs": ("crate", "lib"),
        "crates/core/src/a.rs": ("crate::a", "lib"),
        "crates/core/src/a/child.rs": ("crate::a::child", "lib"),
        "crates/core/src/b/mod.rs": ("crate::b", "lib"),
        "crates/core/src/b/inner.rs": ("crate::b::inner", "lib"),
        "crates/core/src/weird/place.rs": ("crate::c", "lib"),
        "crates/core/src/d/e.rs": ("crate::d::e", "lib"),
        "crates/core/src/orphan.rs": ("crate::orphan", "lib"),
        "crates/core/tests/smoke.rs": ("crate", "test"),
        "crates/core/examples/demo.rs": ("crate", "example"),
    }
    assert "crates/core/src" in ws.watch_dirs and not any("target" in d for d in ws.watch_dirs)
    _, analyses = analyze_workspace(tmp_path)
    paths = {i.path for a in analyses for i in a.items}
    assert {"crate::a::child::deep", "crate::b::inner::Inner", "crate::c::placed", "crate::d::e::inline_child"} <= paths
    smoke = next(a for a in analyses if a.path.endswith("smoke.rs"))
    assert all(i.is_test for i in smoke.items)


def test_broken_manifest_and_bad_files_do_not_stop_discovery(tmp_path):
    write(tmp_path, {"Cargo.toml": "[package\nname = ", "src/lib.rs": "fn ok() {}\n"})
    (tmp_path / "src" / "bin.rs").write_bytes(b"\x00\x01binary")
    ws, analyses = analyze_workspace(tmp_path)
    assert any("Cargo.toml" in e for e in ws.errors)
    by_path = {a.path: a for a in analyses}
    assert [i.name for i in by_path["src/lib.rs"].items] == ["ok"]
    assert "binary" in by_path["src/bin.rs"].skipped


def test_find_workspace_root_prefers_the_enclosing_workspace(tmp_path):
    write(tmp_path, {"Cargo.toml": '[workspace]\nmembers = ["m"]\n',
                     "m/Cargo.toml": '[package]\nname = "m"\nversion = "0.1.0"\n', "m/src/lib.rs": ""})
    assert find_workspace_root(tmp_path / "m" / "src" / "lib.rs") == tmp_path.resolve()
    assert find_workspace_root(tmp_path / "m" / "src") == tmp_path.resolve()


def test_is_watched_ignores_target_and_git():
    assert is_watched("src/lib.rs") and is_watched("crates/a/Cargo.toml")
    assert not is_watched("target/debug/x.rs") and not is_watched(".git/HEAD") and not is_watched("README.md")


def test_quick_discovery_reads_no_source_and_guesses_the_usual_layouts_right():
    from rusta_lsp.analysis.workspace import DiskSource

    class Counting(DiskSource):
        sources_read = 0

        def read_bytes(self, rel):
            Counting.sources_read += rel.endswith(".rs")
            return super().read_bytes(rel)

    tokio = Path("/usr/share/cargo/registry/tokio-1.24.2")
    quick = discover_workspace(tokio, Counting(tokio), follow_modules=False)
    assert Counting.sources_read == 0
    full = discover_workspace(tokio)
    assert len(full.files) > 400
    assert {(f.path, f.module_path, f.target) for f in quick.files} == {
        (f.path, f.module_path, f.target) for f in full.files}


def _package(folder: Path, name: str, extra: str = "") -> None:
    (folder / "src").mkdir(parents=True)
    (folder / "Cargo.toml").write_text(f'[package]\nname = "{name}"\nversion = "0.1.0"\n{extra}')
    (folder / "src" / "lib.rs").write_text(f"pub fn {name}() {{}}\n")


def test_workspace_roots_follow_cargo_members_exclude_and_nested_workspaces(tmp_path):
    from rusta_lsp.analysis.workspace import cargo_roots

    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*", "tools/kept"]\n'
                                      'exclude = ["crates/inner", "tools"]\n')
    _package(outer / "crates" / "a", "a")
    _package(outer / "crates" / "inner", "inner", '[workspace]\nmembers = ["x"]\n')
    _package(outer / "crates" / "inner" / "x", "x")
    _package(outer / "tools" / "gen", "gen")  # excluded, and no other workspace above: its own
    _package(outer / "tools" / "kept", "kept")  # under an excluded path, but a member by name
    assert cargo_roots(outer) == [outer.resolve(), (outer / "crates" / "inner").resolve(),
                                  (outer / "tools" / "gen").resolve()]
    assert find_workspace_root(outer / "crates" / "inner" / "x" / "src" / "lib.rs") == (outer / "crates" / "inner").resolve()
    assert find_workspace_root(outer / "crates" / "a" / "src" / "lib.rs") == outer.resolve()
    assert find_workspace_root(outer / "tools" / "kept" / "src") == outer.resolve()
    assert find_workspace_root(outer / "tools" / "gen" / "src" / "lib.rs") == (outer / "tools" / "gen").resolve()
    # A member opened on its own is the editor's workspace (cargo's is above the folder).
    assert cargo_roots(outer / "crates" / "a") == [(outer / "crates" / "a").resolve()]
    # What the outer workspace analyses: its members, not the nested workspace or the excluded tool.
    assert sorted(c.name for c in discover_workspace(outer).crates) == ["a", "kept"]
    assert sorted(c.name for c in discover_workspace(outer / "crates" / "inner").crates) == ["inner", "x"]
