"""Plain data produced by the analysis. No LSP types, no I/O.

Lines and columns here are rustc's convention: 1-based, columns counted in Unicode scalar values.
Byte offsets index the UTF-8 source. `positions.LineIndex` converts to LSP's UTF-16 positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ITEM_KINDS = (
    "fn",  # free function
    "method",  # fn inside an impl or trait
    "struct",
    "enum",
    "variant",
    "field",
    "trait",
    "impl",
    "mod",
    "const",
    "static",
    "type",  # type alias or associated type
    "macro",  # macro_rules!
    "use",
    "union",
)


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    col: int  # 1-based, Unicode scalar values


@dataclass(frozen=True)
class Span:
    start_byte: int
    end_byte: int
    start: Pos
    end: Pos  # exclusive: the position just after the last character

    @property
    def start_line(self) -> int:
        return self.start.line

    @property
    def end_line(self) -> int:
        """Last line the span covers (a span ending at column 1 does not cover that line)."""
        if self.end.col == 1 and self.end.line > self.start.line:
            return self.end.line - 1
        return self.end.line

    def contains_byte(self, offset: int) -> bool:
        return self.start_byte <= offset < self.end_byte


@dataclass(slots=True)  # not frozen: frozen dataclasses construct slower, and files hold thousands
class Ref:
    """An identifier an item's body or signature mentions (not resolved).

    Kept small (a file has thousands): an identifier sits on one line, so its end is derived.
    """

    name: str
    # "call" (f(..)), "method" (x.f(..)), "field" (x.f), "type", "path" (a::b), "macro" (m!),
    # "token" (an identifier inside a macro's arguments: a token, not an expression)
    kind: str
    line: int  # 1-based
    col: int  # 1-based, Unicode scalar values
    start_byte: int
    # For path refs, the qualifier as written (`Ledger` in `Ledger::new`), else "".
    qualifier: str = ""

    @property
    def end_col(self) -> int:
        return self.col + len(self.name)

    @property
    def end_byte(self) -> int:
        return self.start_byte + len(self.name.encode("utf-8"))

    @property
    def span(self) -> Span:
        return Span(self.start_byte, self.end_byte, Pos(self.line, self.col), Pos(self.line, self.end_col))


@dataclass
class Item:
    kind: str  # one of ITEM_KINDS
    name: str  # `apply`; for impls `impl Trait for Type`; for uses the bound name (alias or last segment)
    path: str  # `crate::store::Ledger::apply`; impls `crate::store::<impl Display for Ledger>`
    signature: str  # declaration head without the body, whitespace collapsed
    doc: str  # joined doc comment text (`///`, `/** */`, `#[doc = "..."]`), markers stripped
    span: Span  # the whole item including its doc comment and attributes
    name_span: Span  # the identifier that names it (the whole head for impls)
    attrs: list[str] = field(default_factory=list)  # attribute texts without `#[` `]`
    refs: list[Ref] = field(default_factory=list)
    parent: str | None = None  # qualified path of the enclosing item (module, impl, trait, enum...)
    impl_type: str | None = None  # for methods/assoc items in impls: the self type as written, `Ledger`
    trait_name: str | None = None  # for trait impls: the trait as written, `Display`
    is_test: bool = False  # `#[test]`-like fn, or anything inside a `#[cfg(test)]` module
    use_target: str | None = None  # for `use` items: the full imported path, `std::io::Write`
    doc_span: Span | None = None  # where the doc comment sits
    visibility: str = ""  # `pub`, `pub(crate)`, ... or "" for private

    @property
    def qualified_name(self) -> str:
        return self.path


@dataclass(frozen=True)
class ParseError:
    message: str
    span: Span


@dataclass
class FileAnalysis:
    """Everything the analysis knows about one source file."""

    path: str  # relative to the workspace root, `/`-separated
    module_path: str  # `crate::store`
    items: list[Item] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    # `mod foo;` declarations (no body): name, span, and the `#[path = "..."]` value if any.
    mod_decls: list[ModDecl] = field(default_factory=list)
    line_count: int = 0
    # Inner doc comment (`//!`) of the file's module.
    module_doc: str = ""
    # Why the file was skipped (non-UTF-8, binary), or None when it was parsed.
    skipped: str | None = None


@dataclass(frozen=True)
class ModDecl:
    name: str
    span: Span
    path_attr: str | None = None
    cfg_test: bool = False
    # Module the declaration sits in (`crate::a` for `mod a { mod b; }`), for locating its file.
    parent_module: str = "crate"


@dataclass
class Target:
    kind: str  # "lib", "bin", "test", "example", "bench"
    name: str
    root: str  # root file, relative to the workspace root


@dataclass
class Crate:
    name: str
    root: str  # directory holding Cargo.toml, relative to the workspace root ("" for the root)
    manifest: str  # path of Cargo.toml, relative
    targets: list[Target] = field(default_factory=list)


@dataclass
class SourceFile:
    path: str  # relative to the workspace root
    crate: str  # crate name
    module_path: str  # `crate::a::b` for library/binary modules; `crate` for target roots
    target: str  # target kind this file belongs to ("lib", "bin", "test", ...)


@dataclass
class Workspace:
    root: str  # absolute path of the workspace root
    crates: list[Crate] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)
    # Directories worth watching: each crate's src/tests/examples/benches plus manifests.
    watch_dirs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
