"""Broken programs others wrote, paired with their authors' corrections: the corpus of bench/intent.py.

Two sources from Debian's `rust-doc` package (`apt-get install rust-doc`), read as HTML:

- `error-index.html`: per error code, rustdoc-rendered examples. A `compile_fail` example is a
  broken program; the examples after it in the same section are usually its corrected forms. Each
  example's "Run" link carries the whole program rustdoc tests (hidden lines, the `fn main`
  wrapper, `#![allow(unused)]`) and its edition.
- The Rust Book (`book/ch*.html`, `appendix-*.html`): listings marked `does_not_compile`,
  `panics` or plain; hidden lines are `<span class="boring">` and are kept. The error code of a
  broken listing comes from the `error[E....]` output the book prints after it.

Pairing is deliberately strict: a broken example is paired with the later compiling example of
the same section (error index) or of the next few listings (Book) whose token sequence is most
similar to it, and only when the similarity clears `SAME_PROGRAM` (SequenceMatcher ratio over
tokens, comments and whitespace aside; 0.75 after reading the pairs on both sides of it). Below
that the author wrote a different program, not a correction, and the case has no known intended
fix. Tokens, similarity and the shortest token-edit distance are also what the judge of
bench/intent.py uses, so they live here.

No I/O beyond reading the HTML files; nothing here runs a compiler.
"""

from __future__ import annotations

import difflib
import html
import re
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

RUST_DOC = Path("/usr/share/doc/rust-doc/html")
# Token-sequence similarity above which a compiling example is taken as the broken one corrected.
SAME_PROGRAM = 0.75
# How many listings after a broken one the Book's correction may come.
BOOK_WINDOW = 6


@dataclass
class Example:
    source: str  # "error-index" or "book"
    section: str  # the error code's section (E0382) or the Book chapter's file name
    index: int  # position in the section
    code: str  # the whole program as rustdoc would compile it
    flags: frozenset[str]  # compile_fail, ignore, should_panic, does_not_compile, panics, ...
    edition: str
    error_code: str | None = None  # the code this example is shown for (broken examples)

    @property
    def broken(self) -> bool:
        return bool(self.flags & {"compile_fail", "does_not_compile"})

    @property
    def name(self) -> str:
        return f"{self.source}:{self.section}#{self.index}"


@dataclass
class Case:
    name: str
    source: str
    error_code: str | None
    edition: str
    broken: str
    fixed: str | None  # the author's corrected program; None: no corrected form of this program
    similarity: float = 0.0  # to the corrected program (or to the nearest rejected one)
    partner: str | None = None  # the corrected example's name
    notes: list[str] = field(default_factory=list)


# --- tokens --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<doc>///[^/\n][^\n]*|///$|//![^\n]*|/\*\*[^*/](?:.|\n)*?\*/|/\*!(?:.|\n)*?\*/)
  | (?P<comment>//[^\n]*|/\*(?:.|\n)*?\*/)
  | (?P<raw>b?r(?P<hashes>\#*)"(?:.|\n)*?"(?P=hashes))
  | (?P<str>b?"(?:\\.|[^"\\])*")
  | (?P<char>b?'(?:\\.|[^'\\])')
  | (?P<lifetime>'[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>\d[\w.]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>.)
    """,
    re.X | re.S,
)


def tokens(source: str) -> list[str]:
    """The program's tokens without comments (a doc comment is one token) and whitespace,
    punctuation one character at a time (so `&&x` and `& &x` agree), and a comma just before a
    closing bracket dropped: what differs only in formatting gives the same list."""
    out: list[str] = []
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind in ("ws", "comment"):
            continue
        text = m.group()
        if kind == "doc":  # doc comments are attributes: they count, their wording aside
            text = "#![doc]" if text[2] == "!" else "#[doc]"
        if text in ")]}" and out and out[-1] == ",":
            out.pop()
        out.append(text)
    return out


def normal_tokens(code: str) -> list[str]:
    """Tokens (intent_corpus.tokens) with non-`pub` `use` declarations moved to the front, sorted."""
    toks = tokens(code)
    uses, rest, i = [], [], 0
    while i < len(toks):
        if toks[i] == "use" and (not rest or rest[-1] in (";", "{", "}", "]")):
            j = toks.index(";", i) + 1 if ";" in toks[i:] else len(toks)
            uses.append(toks[i:j])
            i = j
            continue
        rest.append(toks[i])
        i += 1
    return [t for u in sorted(uses) for t in u] + rest


def fresh_names_renamed(toks: list[str], known: set[str]) -> list[str]:
    """`toks` with the names it binds that `known` lacks (a new `let` variable, a new `use ... as`
    or `extern crate ... as` alias) renamed `$1`, `$2`, ... in order of appearance: a fresh name
    may be anything, so `let value = foo();` and `let binding = foo();` are the same edit."""
    fresh: dict[str, str] = {}
    start = 0  # where the current statement starts
    for i, tok in enumerate(toks):
        if tok in (";", "{", "}"):
            start = i + 1
            continue
        before = toks[i - 1] if i else ""
        binds = before == "let" or (before == "mut" and i > 1 and toks[i - 2] == "let") or (
            before == "as" and toks[start] in ("use", "extern"))
        if binds and re.match(r"[A-Za-z]\w*$", tok) and tok not in known and tok not in fresh:
            fresh[tok] = f"${len(fresh) + 1}"
    return [fresh.get(t, t) for t in toks]


def similarity(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def edit_distance(a: list[str], b: list[str]) -> int:
    """Insertions plus deletions that turn `a` into `b` (len a + len b - 2 LCS), exactly: the
    judge asks whether a patch lies on a shortest path from the broken to the fixed program."""
    if not a or not b:
        return len(a) + len(b)
    # Common prefix and suffix first: programs that differ in a few tokens cost almost nothing.
    lo = 0
    while lo < min(len(a), len(b)) and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < min(len(a), len(b)) - lo and a[-1 - hi] == b[-1 - hi]:
        hi += 1
    a, b = a[lo : len(a) - hi], b[lo : len(b) - hi]
    if not a or not b:
        return len(a) + len(b)
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return len(a) + len(b) - 2 * prev[-1]


def hunks(a: list[str], b: list[str]) -> int:
    """How many separate places the token sequences differ in."""
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(tag != "equal" for tag, *_ in ops)


# --- HTML ---------------------------------------------------------------------------------------


class _Blocks(HTMLParser):
    """Code blocks in document order: (class, text, link) with the section id they sit under,
    plus the text of `<pre><code class="language-console">` blocks (the Book's compiler output)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.section = ""
        self.blocks: list[dict] = []
        self._code: dict | None = None
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2" and a.get("id"):
            self.section = a["id"]
        if tag == "pre" and "rust-example-rendered" in (a.get("class") or ""):
            self._code = {"class": a["class"], "text": [], "link": None, "section": self.section}
        elif tag == "code" and (a.get("class") or "").startswith("language-") and self._code is None:
            self._code = {"class": a["class"], "text": [], "link": None, "section": self.section}
        elif tag == "a" and "test-arrow" in (a.get("class") or "") and self.blocks:
            self.blocks[-1]["link"] = a.get("href")

    def handle_endtag(self, tag):
        if tag in ("pre", "code") and self._code is not None:
            self._code["text"] = "".join(self._code["text"])
            self.blocks.append(self._code)
            self._code = None

    def handle_data(self, data):
        if self._code is not None:
            self._code["text"].append(data)


def _playground(link: str | None) -> tuple[str | None, str | None]:
    """The program and edition a rustdoc "Run" link carries."""
    if not link:
        return None, None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(html.unescape(link)).query)
    code = query.get("code", [None])[0]
    return code, query.get("edition", [None])[0]


def doctest_program(text: str) -> str:
    """What rustdoc compiles for a code block: `#![allow(unused)]`, crate attributes first, the
    rest inside `fn main() { }` unless it has its own `fn main`."""
    lines = text.rstrip("\n").split("\n")
    attrs = [ln for ln in lines if ln.lstrip().startswith("#![")]
    body = [ln for ln in lines if not ln.lstrip().startswith("#![")]
    head = "".join(a + "\n" for a in attrs)
    if "#![allow(unused)]" not in (a.strip() for a in attrs):
        head = "#![allow(unused)]\n" + head
    if re.search(r"\bfn\s+main\s*\(", text):
        return head + "\n".join(body) + "\n"
    return head + "fn main() {\n" + "\n".join(body) + "\n}\n"


def error_index_examples(page: str) -> list[Example]:
    parser = _Blocks()
    parser.feed(page)
    out, counts = [], {}
    for block in parser.blocks:
        section = block["section"]
        if not re.fullmatch(r"E\d{4}", section) or "rust-example-rendered" not in block["class"]:
            continue
        flags = frozenset(block["class"].split()) - {"rust", "rust-example-rendered"}
        code, edition = _playground(block["link"])
        if code is None:
            code, edition = doctest_program(block["text"]), "2015"
        index = counts[section] = counts.get(section, -1) + 1
        out.append(Example("error-index", section, index, code, flags, edition or "2015",
                           section if "compile_fail" in flags else None))
    return out


_ERROR_LINE = re.compile(r"error\[(E\d{4})\]")


def book_examples(page: str, chapter: str) -> list[Example]:
    """The chapter's Rust listings; a broken one takes the first error code of the compiler output
    printed before the next listing."""
    parser = _Blocks()
    parser.feed(page)
    out: list[Example] = []
    pending: Example | None = None
    for block in parser.blocks:
        cls = block["class"].split()
        if cls[0] == "language-console" and pending is not None:
            m = _ERROR_LINE.search(block["text"])
            if m and pending.error_code is None:
                pending.error_code = m.group(1)
            continue
        if cls[0] != "language-rust":
            continue
        flags = frozenset(cls[1:])
        edition = next((f[len("edition"):] for f in flags if f.startswith("edition")), "2021")
        example = Example("book", chapter, len(out), doctest_program(block["text"]), flags, edition)
        out.append(example)
        pending = example if example.broken else None
    return out


# --- pairing ------------------------------------------------------------------------------------


def _candidates(examples: list[Example], i: int) -> list[Example]:
    broken = examples[i]
    same = [e for e in examples if e.section == broken.section and not e.broken]
    if broken.source == "book":
        return [e for e in same if broken.index < e.index <= broken.index + BOOK_WINDOW]
    return same


def pair(examples: list[Example]) -> tuple[list[Case], dict[str, int]]:
    """Cases from the broken examples, each with its corrected form when one is the same program;
    and why examples were left out, counted."""
    cases, dropped = [], {}
    toks = {id(e): tokens(e.code) for e in examples}
    for i, broken in enumerate(examples):
        if not broken.broken:
            continue
        if re.search(r"#!\[feature\(", broken.code):
            dropped["nightly feature (#![feature])"] = dropped.get("nightly feature (#![feature])", 0) + 1
            continue
        best, score = None, 0.0
        for other in _candidates(examples, i):
            s = similarity(toks[id(broken)], toks[id(other)])
            if s > score:
                best, score = other, s
        case = Case(broken.name, broken.source, broken.error_code, broken.edition, broken.code, None, score)
        if best is not None and score >= SAME_PROGRAM:
            case.fixed, case.partner = best.code, best.name
        elif best is None:
            case.notes.append("no compiling example after it")
        else:
            case.notes.append(f"nearest compiling example {best.name} is another program (similarity {score:.2f})")
        cases.append(case)
    return cases, dropped


def load(root: Path = RUST_DOC) -> tuple[list[Case], dict[str, int]]:
    """Every case of the installed documentation, in a fixed order."""
    examples = error_index_examples((root / "error-index.html").read_text(encoding="utf-8"))
    book = root / "book"
    for page in sorted(book.glob("ch*.html")) + sorted(book.glob("appendix-*.html")):
        examples += book_examples(page.read_text(encoding="utf-8"), page.stem)
    return pair(examples)
