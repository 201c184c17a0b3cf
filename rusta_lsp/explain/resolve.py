"""From a located subject to ranked referents (candidate definitions), each with a resolution confidence.

The current file is read from its own analysis (the buffer may be unsaved); everything else from
the memory. Confidence follows how the name was found: where Rust's scoping rules pin it down
(definition site, a `use`, a crate-rooted path, a typed receiver) it is high; a workspace-wide
guess by name alone is low, and several equally plausible candidates mean "ambiguous".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from ..analysis.model import FileAnalysis, Item
from ..analysis.parser import analyze_source
from ..memory.records import ItemRecord, PassageRecord, RefRecord
from .locate import Receiver, Subject

TYPE_KINDS = {"struct", "enum", "trait", "type", "union"}
CALL_KINDS = {"fn", "struct", "variant"}
VALUE_KINDS = {"const", "static", "fn", "variant", "struct", "mod"}
CALLABLE_KINDS = {"fn", "method", "struct", "variant"}  # what `a::b(..)` can call
PATH_KINDS = {"fn", "method", "struct", "enum", "variant", "trait", "type", "union", "const", "static", "mod", "macro"}
EXTERNAL_ROOTS = {"std", "core", "alloc", "proc_macro", "test"}
# Names the standard prelude brings into every module; without a workspace import they are std's.
PRELUDE = {
    "Some", "None", "Ok", "Err", "Option", "Result", "Vec", "String", "Box", "ToString", "ToOwned",
    "Clone", "Copy", "Default", "Drop", "Eq", "PartialEq", "Ord", "PartialOrd", "Iterator",
    "IntoIterator", "Extend", "From", "Into", "TryFrom", "TryInto", "AsRef", "AsMut", "Fn", "FnMut",
    "FnOnce", "Send", "Sync", "Sized", "Debug", "Hash", "drop",
}  # fmt: skip

# Methods std types have: with the receiver's type unknown, a workspace namesake is no evidence.
STD_METHODS = {
    "unwrap", "expect", "clone", "len", "is_empty", "iter", "iter_mut", "into_iter", "map", "and_then",
    "ok", "err", "ok_or", "unwrap_or", "unwrap_or_else", "unwrap_or_default", "as_ref", "as_mut",
    "to_string", "to_owned", "into", "from", "push", "pop", "insert", "remove", "get", "get_mut",
    "contains", "extend", "next", "collect", "fmt", "eq", "cmp", "partial_cmp", "hash", "drop",
    "write", "read", "flush", "write_all", "write_str", "lock", "borrow", "borrow_mut", "take",
    "replace", "as_str", "as_slice", "as_bytes", "as_ptr", "clear", "default", "deref", "deref_mut",
    "poll", "send", "recv", "filter", "find", "position", "any", "all", "count", "sum", "rev", "zip",
    "chain", "split", "trim", "starts_with", "ends_with", "parse", "is_some", "is_none", "is_ok",
    "is_err", "min", "max", "sort", "join", "with_capacity", "capacity", "reserve", "truncate",
    "drain", "retain", "dedup", "entry", "keys", "values", "first", "last", "nth", "skip", "step_by",
    "enumerate", "copied", "cloned", "flat_map", "fold", "for_each", "peekable", "map_err", "as_deref",
    "unwrap_err", "load", "store", "swap", "compare_exchange", "fetch_add", "fetch_sub", "wake",
    "wake_by_ref", "set", "and", "or", "or_else", "xor", "not", "len_utf8", "to_vec", "extend_from_slice",
}  # fmt: skip

# Method families of std's integer types (`checked_add`, `wrapping_mul`, `to_le_bytes`...).
STD_METHOD_PREFIXES = ("checked_", "wrapping_", "saturating_", "overflowing_", "unchecked_", "to_le_", "to_be_",
                       "to_ne_", "leading_", "trailing_", "count_", "rotate_")


def is_std_method(name: str) -> bool:
    """Whether std types have a method of this name, so a workspace namesake proves nothing."""
    return name in STD_METHODS or name.startswith(STD_METHOD_PREFIXES)


# Macros of std and core: without a workspace definition in the same crate, the name is theirs.
STD_MACROS = {
    "assert", "assert_eq", "assert_ne", "debug_assert", "debug_assert_eq", "debug_assert_ne",
    "println", "print", "eprintln", "eprint", "format", "format_args", "write", "writeln", "panic",
    "vec", "matches", "todo", "unimplemented", "unreachable", "dbg", "concat", "stringify",
    "include", "include_str", "include_bytes", "env", "option_env", "cfg", "line", "column", "file",
    "module_path", "compile_error", "thread_local", "macro_rules", "try",
}  # fmt: skip

PINNED = 0.95  # Rust's scoping rules name this item
LIKELY = 0.85  # a glob import or a typed receiver points at it
GUESS = 0.6  # the only item of that name in the workspace, but scope does not prove it
TIE = 0.1  # candidates closer than this are equally plausible
FLOOR = 0.5  # below this nothing is stated


class Lookups(Protocol):
    """What explain reads from the memory (explain.catalog.Catalog provides it over a Memory)."""

    generation: int  # moves whenever what it answers may have changed (explanations cached before are stale)

    def lookup_name(self, name: str, kind: str | None = None) -> list[ItemRecord]: ...
    def lookup_path(self, qualified: str) -> list[ItemRecord]: ...
    def members_of(self, type_name: str) -> list[ItemRecord]: ...
    def references(self, name: str, qualifier: str | None = None, *, rank: Callable[[str], int] | None = None,
                   limit: int | None = None) -> list[RefRecord]: ...
    def passages_mentioning(self, name: str, k: int) -> list[PassageRecord]: ...
    def events(self, kind: str | None = None) -> list[dict]: ...


@dataclass
class Referent:
    item: ItemRecord
    confidence: float
    why: str  # how it was found, shown to the user


@dataclass
class Resolution:
    candidates: list[Referent] = field(default_factory=list)
    reason: str | None = None  # why nothing (or nothing unique) can be stated

    @property
    def best(self) -> Referent | None:
        """The candidate to explain, or None when resolution abstains (empty, weak or tied)."""
        if self.reason or not self.candidates:
            return None
        return self.candidates[0]


def record_of(item: Item, path: str) -> ItemRecord:
    doc = item.doc_span
    return ItemRecord(
        path=path, qualified=item.path, name=item.name, kind=item.kind, signature=item.signature,
        doc=item.doc, start_line=item.span.start_line, end_line=item.span.end_line,
        doc_start_line=doc.start_line if doc else None, doc_end_line=doc.end_line if doc else None,
        is_test=item.is_test, parent=item.parent, impl_type=item.impl_type,
        trait_name=item.trait_name, visibility=item.visibility,
    )


def type_name(type_text: str) -> str | None:
    """The nominal head of a type as written: `&'a mut Vec<T>` -> `Vec`; None for tuples and slices."""
    text = re.sub(r"^(&\s*('\w+\s+)?(mut\s+)?|\*(const|mut)\s+|dyn\s+|impl\s+)+", "", type_text.strip())
    match = re.match(r"[A-Za-z_][\w:]*", text)
    return match.group(0).rsplit("::", 1)[-1] if match else None


def _field_type(signature: str) -> str | None:
    # Field signatures read `pub name: Type`.
    _, sep, rest = signature.partition(":")
    return type_name(rest.rstrip(",")) if sep else None


def owner_of(record: ItemRecord) -> str | None:
    """The type a member belongs to: the impl's self type, or the last segment of its parent."""
    if record.impl_type:
        return record.impl_type
    if record.parent and "<" not in record.parent:
        return record.parent.rsplit("::", 1)[-1]
    return None


@dataclass
class FileContext:
    """The file being explained, analysed from its current text."""

    path: str  # relative to the workspace root
    analysis: FileAnalysis
    # Which crate a path belongs to (a key: the crate's directory, or one test/example/bin file).
    crate_of: Callable[[str], str] = lambda path: ""
    crate_names: dict[str, str] = field(default_factory=dict)  # `regex_syntax` -> its library's key
    records: list[ItemRecord] = field(default_factory=list)
    item_macros: list[str] = field(default_factory=list)  # macros invoked where items are declared

    @property
    def crate_root(self) -> str:
        return self.crate_of(self.path)

    def __post_init__(self) -> None:
        if not self.records:
            self.records = [record_of(item, self.path) for item in self.analysis.items]


class Resolver:
    def __init__(self, catalog: Lookups, ctx: FileContext):
        self.catalog = catalog
        self.ctx = ctx
        self.impl_type: str | None = None  # of the impl around the target, for `Self::`

    # --- lookups merging the current buffer over the memory ----------------------------------

    def by_name(self, name: str) -> list[ItemRecord]:
        stored = [r for r in self.catalog.lookup_name(name) if r.path != self.ctx.path]
        return [r for r in self.ctx.records if r.name == name] + stored

    def by_path(self, qualified: str, crate: str | None) -> list[ItemRecord]:
        """Items at a qualified path, within one crate when paths are crate-rooted."""
        local = []
        if crate is None or crate == self.ctx.crate_root:
            local = [r for r in self.ctx.records if r.qualified == qualified]
        stored = [r for r in self.catalog.lookup_path(qualified) if r.path != self.ctx.path]
        found = local + stored
        if crate is not None:
            found = [r for r in found if self.ctx.crate_of(r.path) == crate]
        return found

    def _use_targets(self, module: str) -> dict[str, str]:
        return {item.name: item.use_target for item in self.ctx.analysis.items
                if item.kind == "use" and item.parent == module and item.use_target}

    # --- entry ---------------------------------------------------------------------------

    def module_of(self, subject: Subject) -> str:
        return "::".join([self.ctx.analysis.module_path, *subject.inline_modules])

    def resolve(self, subject: Subject) -> Resolution:
        module = self.module_of(subject)
        self.impl_type = subject.impl_type
        role = subject.role
        if role == "definition":
            return self._definition(subject)
        if role == "macro":
            return self.macro(subject.name)
        if role in ("path", "use"):
            return self._path(subject.segments, module, CALLABLE_KINDS if subject.called else PATH_KINDS)
        if role == "type":
            return self._name(subject.name, module, TYPE_KINDS)
        if role == "call":
            return self._name(subject.name, module, CALL_KINDS)
        if role == "value":
            return self._name(subject.name, module, VALUE_KINDS)
        if role == "self":
            return self._self(subject, module)
        if role in ("method", "field"):
            return self._member(subject, module)
        return Resolution(reason=f"`{subject.name}` is not something Rusta resolves")

    def _definition(self, subject: Subject) -> Resolution:
        for item in self.ctx.analysis.items:
            if item.name_span.start_byte == subject.start_byte and item.kind != "impl":
                return Resolution([Referent(record_of(item, self.ctx.path), 1.0, "defined here")])
        return Resolution(reason=f"`{subject.name}` is not an item the analysis indexed")

    def macro(self, name: str) -> Resolution:
        """macro_rules! scoping is textual and per crate: same file first, then the same crate."""
        found = [r for r in self.by_name(name) if r.kind == "macro"]
        here = [r for r in found if r.path == self.ctx.path]
        crate = [r for r in found if self.ctx.crate_of(r.path) == self.ctx.crate_root]
        if here:
            return _rank([Referent(r, PINNED, "macro_rules! in this file") for r in here])
        if crate:
            return _rank([Referent(r, LIKELY, "macro_rules! in this crate") for r in crate],
                         ambiguity=f"several macros named `{name}!` in this crate")
        if name in STD_MACROS:
            return Resolution(reason=f"`{name}!` is a macro of Rust's standard library")
        if not found:
            return Resolution(reason=f"macro `{name}!` is not defined in this workspace (std or a dependency)")
        return _rank([Referent(r, GUESS, "macro_rules! in another crate of the workspace") for r in found],
                     ambiguity=f"`{name}!` is defined in several crates")

    # --- names and paths -----------------------------------------------------------------

    def _name(self, name: str, module: str, kinds: set[str]) -> Resolution:
        imported = self._use_targets(module).get(name)
        if imported:
            found = self._path(imported.split("::"), module, kinds | PATH_KINDS, via=f"imported by `use {imported}`")
            if found.reason and imported.split("::")[0] not in EXTERNAL_ROOTS:
                found.reason = f"`{name}` is imported from `{imported}`, which is not defined in the workspace"
            return found
        local = [r for r in self.ctx.records if r.name == name and r.parent == module and r.kind in kinds]
        if local:
            return _rank([Referent(r, PINNED, "defined in this module") for r in local])
        globbed = []
        for target in self._use_targets_glob(module):
            globbed += [r for r in self.by_path(f"{target}::{name}", self._crate_for_path(target)) if r.kind in kinds]
        if globbed:
            return _rank([Referent(r, LIKELY, "brought in by a glob import") for r in globbed])
        if name in PRELUDE:
            return Resolution(reason=f"`{name}` comes from Rust's standard prelude, outside the workspace")
        anywhere = [r for r in self.by_name(name) if r.kind in kinds]
        if not anywhere:
            return Resolution(reason=self._not_found(name))
        score = GUESS if len(anywhere) == 1 else GUESS / 2
        return _rank([Referent(r, score, f"the only {r.kind} named `{name}` in the workspace"
                                if len(anywhere) == 1 else f"one of {len(anywhere)} items named `{name}`")
                      for r in anywhere], ambiguity=f"`{name}` is not imported or defined in this module")

    def _use_targets_glob(self, module: str) -> list[str]:
        return [item.use_target[:-3] for item in self.ctx.analysis.items
                if item.kind == "use" and item.parent == module and item.use_target and item.use_target.endswith("::*")]

    def _crate_for_path(self, qualified: str) -> str | None:
        return self.ctx.crate_root if qualified.split("::")[0] == "crate" else None

    def _not_found(self, name: str) -> str:
        reason = f"`{name}` is not defined in the workspace (std, a dependency, or an item a macro generates)"
        if self.ctx.item_macros:
            shown = ", ".join(f"`{m}!`" for m in self.ctx.item_macros[:3])
            reason += f"; this file invokes {shown} where items are declared, which the parser cannot expand"
        return reason

    def _path(self, segments: list[str], module: str, kinds: set[str], via: str = "") -> Resolution:
        base, rest, crate, why = self._path_base(segments, module)
        if base is None:
            return Resolution(reason=why)
        why = via or why
        if not rest:
            qualified = "::".join(base)
            if qualified == "crate":
                return Resolution(reason=f"`{segments[-1]}` names the root module of a crate, not an item")
            found = self.by_path(qualified, crate)
            if not found and len(base) == 1:
                return self._name(base[0], module, kinds)
        else:
            qualified = "::".join(base + rest)
            found = self.by_path(qualified, crate)
        found = [r for r in found if r.kind in kinds or r.kind == "use"]
        if not found and crate is not None:
            found = [r for r in self._through_globs(qualified, crate) if r.kind in kinds or r.kind == "use"]
        found = _inherent_first(self._follow_uses(found))
        if not found and rest and crate is None and not segments[0][:1].isupper():
            return Resolution(reason=f"`{segments[0]}` is not a module, type or crate of this workspace "
                              "(an external crate?)")
        if not found and rest and crate is None:
            # An unrooted type path (`Ledger::new`): match its tail anywhere, lower confidence.
            suffix = "::".join(segments)
            found = [r for r in self.by_name(segments[-1])
                     if (r.qualified.endswith("::" + suffix) or _member_of(r, segments)) and r.kind in kinds]
            if found:
                return _rank([Referent(r, GUESS if len(found) == 1 else GUESS / 2, f"matches `{suffix}`")
                              for r in found], ambiguity=f"`{suffix}` matches several items")
        if not found:
            if rest:
                owner = "::".join(base + rest[:-1])
                return Resolution(reason=f"`{owner}` has no `{rest[-1]}` in the workspace's source: it may "
                                  "come from a trait outside the workspace, a derive, or a macro")
            return Resolution(reason=self._not_found("::".join(segments)))
        return _rank([Referent(r, PINNED, why) for r in found])

    def _follow_uses(self, found: list[ItemRecord], depth: int = 0) -> list[ItemRecord]:
        """Replace re-exports (`pub use a::B;`) by what they import."""
        out = []
        for record in found:
            if record.kind != "use" or depth > 4:
                out.append(record)
                continue
            target = self._use_target_of(record)
            if not target or target.split("::")[0] in EXTERNAL_ROOTS:
                continue
            if target.split("::")[0] != "crate":  # 2018 paths start in the importing module
                target = f"{record.parent or 'crate'}::{target}"
            out += self._follow_uses(self.by_path(target, self.ctx.crate_of(record.path)), depth + 1)
        return out

    def _through_globs(self, qualified: str, crate: str, depth: int = 0) -> list[ItemRecord]:
        """Items at `qualified` reached through glob re-exports on the way: regex's
        `crate::literal::LiteralSearcher` is `crate::literal::imp::LiteralSearcher` by the
        `pub use self::imp::*;` in `crate::literal`."""
        parts = qualified.split("::")
        for step in range(1, len(parts)):
            if self.by_path("::".join(parts[: step + 1]), crate):
                continue  # this much of the path exists as written
            found: list[ItemRecord] = []
            for glob in self.by_path("::".join([*parts[:step], "*"]), crate):
                target = self._use_target_of(glob) if glob.kind == "use" else None
                if not target or not target.endswith("::*") or target.split("::")[0] != "crate":
                    continue
                rewritten = "::".join([target[:-3], *parts[step:]])
                found += self.by_path(rewritten, crate) or (
                    self._through_globs(rewritten, crate, depth + 1) if depth < 3 else [])
            return found
        return []

    def _use_target_of(self, record: ItemRecord) -> str | None:
        if record.path == self.ctx.path:
            for item in self.ctx.analysis.items:
                if item.kind == "use" and item.path == record.qualified:
                    return item.use_target
        return _stored_use_target(record.signature, record.parent or "crate", record.name)

    def _path_base(self, segments: list[str], module: str,
                   depth: int = 0) -> tuple[list[str] | None, list[str], str | None, str]:
        """Resolve a path's head: (absolute prefix, remaining segments, crate dir or None, why)."""
        head, rest = segments[0], segments[1:]
        here = self.ctx.crate_root
        if head == "crate":
            return ["crate"], rest, here, "by its crate path"
        if head == "self":
            return module.split("::"), rest, here, "by its module path"
        if head == "super":
            parts = module.split("::")
            while segments and segments[0] == "super":
                segments = segments[1:]
                if len(parts) > 1:
                    parts = parts[:-1]
            return parts, segments, here, "by its module path"
        if head == "Self" and self.impl_type and depth < 4:
            return self._path_base([self.impl_type, *rest], module, depth + 1)
        if head in EXTERNAL_ROOTS:
            return None, [], None, f"`{'::'.join(segments)}` is in Rust's standard library, outside the workspace"
        local = any(r.name == head and r.parent == module and r.kind in TYPE_KINDS | {"mod", "trait"}
                    for r in self.ctx.records)
        if local and rest:  # a path prefix lives in the type namespace: a module or type here wins
            return module.split("::") + [head], rest, here, "defined in this module"
        imported = self._use_targets(module).get(head)
        if imported and depth < 4 and imported.split("::")[0] != head:  # `use quote::quote` names a crate
            parts = imported.split("::")
            if parts[0] in EXTERNAL_ROOTS:
                return None, [], None, f"`{head}` is imported from `{imported}`, outside the workspace"
            base, tail, crate, _ = self._path_base(parts + rest, module, depth + 1)
            if base is None or (crate is None and parts[0] not in self.ctx.crate_names):
                return None, [], None, f"`{head}` is imported from `{imported}`, outside the workspace"
            return base, tail, crate, f"imported by `use {imported}`"
        if local:
            return module.split("::") + [head], rest, here, "defined in this module"
        if head in self.ctx.crate_names:
            return ["crate"], rest, self.ctx.crate_names[head], f"in crate `{head}`"
        if self.by_path(f"{module}::{head}", here):
            return module.split("::") + [head], rest, here, "a child module"
        for glob in self._use_targets_glob(module):
            if self.by_path(f"{glob}::{head}", self._crate_for_path(glob)):
                return glob.split("::") + [head], rest, self._crate_for_path(glob), "brought in by a glob import"
        if rest and self.by_path(f"crate::{head}", here):  # 2015-edition paths start at the crate root
            return ["crate", head], rest, here, "by its crate path"
        return [head], rest, None, "by name"

    def imported_owner(self, ref: RefRecord) -> str | None:
        """The qualified path of the type a reference's qualifier names, read from what the
        reference's own file imports (`use regex::bytes::Regex;`); None when that cannot tell."""
        head = ref.qualifier.split("::")[0] if ref.qualifier else ""
        if not head:
            return None
        if "::" in ref.qualifier:
            target = ref.qualifier.lstrip(":")
        else:
            uses = [r for r in self.catalog.lookup_name(head) if r.kind == "use" and r.path == ref.path]
            target = _stored_use_target(uses[0].signature, uses[0].parent or "crate", head) if len(uses) == 1 else None
        parts = target.split("::") if target else []
        if not parts or parts[0] not in self.ctx.crate_names:
            return None  # only crate-name paths mean the same from every file
        found = self._path(parts, "crate", TYPE_KINDS).best
        return found.item.qualified if found is not None else None

    # --- self, methods, fields -----------------------------------------------------------

    def _self(self, subject: Subject, module: str) -> Resolution:
        if subject.impl_type:
            found = self._name(subject.impl_type, module, TYPE_KINDS)
            for candidate in found.candidates:
                candidate.why = f"`{subject.name}` in an impl of `{subject.impl_type}`"
            return found
        if subject.trait_name:
            found = self._name(subject.trait_name, module, {"trait"})
            for candidate in found.candidates:
                candidate.why = f"`{subject.name}` inside trait `{subject.trait_name}` is the implementing type"
            return found
        return Resolution(reason=f"`{subject.name}` is used outside an impl or trait")

    def type_named(self, written: str, module: str) -> tuple[ItemRecord | None, str | None]:
        """(the workspace type a type as written names, or None and why)."""
        segments = written.split("::")
        found = (self._path(segments, module, TYPE_KINDS) if len(segments) > 1
                 else self._name(written, module, TYPE_KINDS))
        best = found.best
        if best is not None:
            return best.item, None
        return None, found.reason or f"`{written}` is not a type defined in the workspace"

    def receiver_type(self, receiver: Receiver, module: str) -> tuple[ItemRecord | None, str | None]:
        """Follow `a.b.c` field by field from a known root type: (the type, or None and why)."""
        current, why = self.type_named(receiver.root_type, module)
        for name in receiver.fields:
            if current is None:
                break
            fields = _members_of([r for r in self.by_name(name) if r.kind == "field"], current)
            written = _field_type(fields[0].signature) if len(fields) == 1 else None
            if written is None:
                return None, f"the type of field `{name}` is not known"
            current, why = self.type_named(written, module)
        return current, why

    def _member(self, subject: Subject, module: str) -> Resolution:
        name = subject.name
        kinds = {"method"} if subject.role == "method" else {"field"}
        label = "method" if subject.role == "method" else "field"
        found = [r for r in self.by_name(name) if r.kind in kinds]
        receiver = subject.receiver
        if receiver is not None and receiver.bounds is not None:
            return self._bounded(subject, found, label)
        owner_type, why = None, None
        if subject.owner:
            owner_type, why = self.type_named(subject.owner, module)
        elif receiver is not None:
            owner_type, why = self.receiver_type(receiver, module)
        owner = owner_type.name if owner_type is not None else None
        if owner:
            typed = _inherent_first(_members_of(found, owner_type))
            if typed:
                return _rank([Referent(r, LIKELY if len(typed) == 1 else GUESS / 2,
                                        f"{label} of `{owner}`, the receiver's type") for r in typed],
                             ambiguity=f"`{owner}` has several items named `{name}`")
            provided = [r for r in found if r.impl_type is None and owner_of(r) and any(
                i.kind == "impl" for i in self.by_name(f"impl {owner_of(r)} for {owner}"))]
            if provided:  # a trait's default method, not overridden in the type's impl
                return _rank([Referent(r, LIKELY, f"provided by trait `{owner_of(r)}`, which `{owner}` implements")
                              for r in provided], ambiguity=f"several traits of `{owner}` provide `{name}`")
            return Resolution(reason=f"`{owner}` has no {label} `{name}` in the workspace's source: it may come "
                              "from a trait outside the workspace, a derive, or a macro")
        if why and (subject.owner or (receiver is not None and not receiver.fields)):
            written = subject.owner or receiver.root_type
            return Resolution(reason=f"the receiver has type `{written}`: {why}")
        if not found:
            return Resolution(reason=f"no {label} named `{name}` is defined in the workspace "
                              "(std, a dependency, or macro-generated)")
        shown = f"`{subject.receiver_text}`" if subject.receiver_text else "the receiver"
        if is_std_method(name):
            return Resolution(reason=f"the type of {shown} is not known, and `{name}` is also a {label} of "
                              "standard library types, so a workspace item of that name proves nothing")
        trait = _one_trait(found)
        if trait is not None:
            return _rank([Referent(trait, LIKELY, f"the trait method every `{name}` in the workspace implements")])
        if len(found) == 1:
            return _rank([Referent(found[0], GUESS, f"the only {label} named `{name}` in the workspace; "
                                    f"the type of {shown} is not known")])
        return _rank([Referent(r, GUESS / 2, f"{label} of `{owner_of(r)}`") for r in found],
                     ambiguity=f"{len(found)} types have a {label} named `{name}` and the type of {shown} "
                     "is not known")

    def _bounded(self, subject: Subject, found: list[ItemRecord], label: str) -> Resolution:
        """A receiver whose type is a type parameter or `impl Trait`: only its bounds' methods apply."""
        bounds = subject.receiver.bounds or []
        declared = [r for r in found if r.impl_type is None and owner_of(r) in bounds]
        if declared:
            return _rank([Referent(r, LIKELY, f"declared by `{owner_of(r)}`, a bound of `{subject.receiver.root_type}`")
                          for r in declared], ambiguity=f"several bounds declare `{subject.name}`")
        shown = " + ".join(f"`{b}`" for b in bounds) or "none"
        return Resolution(reason=f"the receiver's type `{subject.receiver.root_type}` is known only by its bounds "
                          f"({shown}), and none of them declares a {label} `{subject.name}` in the workspace")


@lru_cache(maxsize=4096)
def _stored_use_target(signature: str, module: str, name: str) -> str | None:
    """What a stored `use` row imports: its signature is the declaration, so parse it again."""
    analysis = analyze_source(signature.rstrip(";") + ";", "use.rs", module)
    return next((i.use_target for i in analysis.items if i.kind == "use" and i.name == name), None)


def _inherent_first(found: list[ItemRecord]) -> list[ItemRecord]:
    """Rust picks an inherent method over a trait method of the same name on the same type."""
    inherent = [r for r in found if r.kind == "method" and r.impl_type and not r.trait_name]
    if len(inherent) == 1 and all(r is inherent[0] or (r.trait_name and r.impl_type == inherent[0].impl_type)
                                  for r in found):
        return inherent
    return found


def _members_of(found: list[ItemRecord], owner: ItemRecord) -> list[ItemRecord]:
    """The members of type `owner` among `found`: those whose owner has its name, narrowed to
    those declared beside it (`crate::m::T::f` for `crate::m::T`) when a namesake type of another
    module has members of that name too."""
    named = [r for r in found if owner_of(r) == owner.name]
    beside = [r for r in named if r.qualified.rsplit("::", 1)[0] == owner.qualified]
    return beside or named


def _member_of(record: ItemRecord, segments: list[str]) -> bool:
    return len(segments) >= 2 and record.name == segments[-1] and owner_of(record) == segments[-2]


def _one_trait(found: list[ItemRecord]) -> ItemRecord | None:
    """When every candidate is one trait's method or an impl of it, that trait method."""
    declared = [r for r in found if r.impl_type is None and r.parent and "<" not in r.parent]
    if len(declared) != 1:
        return None
    trait = declared[0].parent.rsplit("::", 1)[-1]
    if all(r is declared[0] or r.trait_name == trait for r in found):
        return declared[0]
    return None


def _rank(candidates: list[Referent], ambiguity: str = "") -> Resolution:
    """Order candidates; abstain when the best is weak or not clearly ahead of the next."""
    unique: dict[tuple, Referent] = {}
    for candidate in candidates:
        key = (candidate.item.path, candidate.item.qualified, candidate.item.start_line)
        if key not in unique or unique[key].confidence < candidate.confidence:
            unique[key] = candidate
    ordered = sorted(unique.values(), key=lambda c: (-c.confidence, c.item.path, c.item.start_line))
    resolution = Resolution(ordered)
    if not ordered:
        resolution.reason = "nothing found"
    elif len(ordered) > 1 and ordered[0].confidence - ordered[1].confidence < TIE:
        names = ", ".join(f"`{c.item.qualified}`" for c in ordered[:4])
        more = f" and {len(ordered) - 4} more" if len(ordered) > 4 else ""
        resolution.reason = f"ambiguous: {ambiguity + ': ' if ambiguity else ''}it could be {names}{more}"
    elif ordered[0].confidence < FLOOR:
        resolution.reason = f"not enough evidence: {ordered[0].why}"
    return resolution
