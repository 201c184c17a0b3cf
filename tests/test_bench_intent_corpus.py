"""The corpus builder of bench/intent.py on real snippets of Debian's rust-doc HTML (embedded, so
this runs without the package): examples, their flags and programs, the Book's error codes, and
pairing a broken program with its correction only when it is the same program."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import intent_corpus as corpus  # noqa: E402

# error-index.html (rust-doc 1.63): E0384, whose correction follows, and E0608, whose second
# example is another program.
ERROR_INDEX = """\
<div class="error-described"><h2 id="E0384" class="section-header"><a href="#E0384">E0384</a></h2>
<p>An immutable variable was reassigned.</p>
<p>Erroneous code example:</p>

<div class='information'><div class='tooltip compile_fail'>ⓘ</div></div><div class="example-wrap"><pre class="rust rust-example-rendered compile_fail"><code><span class="kw">fn</span> <span class="ident">main</span>() {
    <span class="kw">let</span> <span class="ident">x</span> <span class="op">=</span> <span class="number">3</span>;
    <span class="ident">x</span> <span class="op">=</span> <span class="number">5</span>; <span class="comment">// error, reassignment of immutable variable</span>
}</code></pre><a class="test-arrow" target="_blank" href="https://play.rust-lang.org/?code=%23!%5Ballow(unused)%5D%0Afn%20main()%20%7B%0A%20%20%20%20let%20x%20%3D%203%3B%0A%20%20%20%20x%20%3D%205%3B%20%2F%2F%20error%2C%20reassignment%20of%20immutable%20variable%0A%7D&amp;edition=2015">Run</a></div>
<p>By default, variables in Rust are immutable. To fix this error, add the keyword
<code>mut</code> after the keyword <code>let</code> when declaring the variable. For example:</p>

<div class="example-wrap"><pre class="rust rust-example-rendered"><code><span class="kw">fn</span> <span class="ident">main</span>() {
    <span class="kw">let</span> <span class="kw-2">mut</span> <span class="ident">x</span> <span class="op">=</span> <span class="number">3</span>;
    <span class="ident">x</span> <span class="op">=</span> <span class="number">5</span>;
}</code></pre><a class="test-arrow" target="_blank" href="https://play.rust-lang.org/?code=%23!%5Ballow(unused)%5D%0Afn%20main()%20%7B%0A%20%20%20%20let%20mut%20x%20%3D%203%3B%0A%20%20%20%20x%20%3D%205%3B%0A%7D&amp;edition=2015">Run</a></div>
</div>
<div class="error-described"><h2 id="E0608" class="section-header"><a href="#E0608">E0608</a></h2>
<p>An attempt to use index on a type which doesn’t implement the <code>std::ops::Index</code>
trait was performed.</p>
<p>Erroneous code example:</p>

<div class='information'><div class='tooltip compile_fail'>ⓘ</div></div><div class="example-wrap"><pre class="rust rust-example-rendered compile_fail"><code><span class="number">0u8</span>[<span class="number">2</span>]; <span class="comment">// error: cannot index into a value of type `u8`</span></code></pre><a class="test-arrow" target="_blank" href="https://play.rust-lang.org/?code=%23!%5Ballow(unused)%5D%0Afn%20main()%20%7B%0A0u8%5B2%5D%3B%20%2F%2F%20error%3A%20cannot%20index%20into%20a%20value%20of%20type%20%60u8%60%0A%7D&amp;edition=2015">Run</a></div>
<p>To be able to index into a type it needs to implement the <code>std::ops::Index</code>
trait. Example:</p>

<div class="example-wrap"><pre class="rust rust-example-rendered"><code><span class="kw">let</span> <span class="ident">v</span>: <span class="ident">Vec</span><span class="op">&lt;</span><span class="ident">u8</span><span class="op">&gt;</span> <span class="op">=</span> <span class="macro">vec!</span>[<span class="number">0</span>, <span class="number">1</span>, <span class="number">2</span>, <span class="number">3</span>];

<span class="comment">// The `Vec` type implements the `Index` trait so you can do:</span>
<span class="macro">println!</span>(<span class="string">&quot;{}&quot;</span>, <span class="ident">v</span>[<span class="number">2</span>]);</code></pre><a class="test-arrow" target="_blank" href="https://play.rust-lang.org/?code=%23!%5Ballow(unused)%5D%0Afn%20main()%20%7B%0Alet%20v%3A%20Vec%3Cu8%3E%20%3D%20vec!%5B0%2C%201%2C%202%2C%203%5D%3B%0A%0A%2F%2F%20The%20%60Vec%60%20type%20implements%20the%20%60Index%60%20trait%20so%20you%20can%20do%3A%0Aprintln!(%22%7B%7D%22%2C%20v%5B2%5D)%3B%0A%7D&amp;edition=2015">Run</a></div>
</div>
"""

# book/ch04-02-references-and-borrowing.html: Listing 4-6, the compiler's output, the corrected
# listing, then a broken listing with hidden (`boring`) lines and no correction after it.
BOOK = """\
<pre><code class="language-rust ignore does_not_compile">fn main() {
    let s = String::from(&quot;hello&quot;);

    change(&amp;s);
}

fn change(some_string: &amp;String) {
    some_string.push_str(&quot;, world&quot;);
}
</code></pre>
<p><span class="caption">Listing 4-6: Attempting to modify a borrowed value</span></p>
<p>Here’s the error:</p>
<pre><code class="language-console">$ cargo run
   Compiling ownership v0.1.0 (file:///projects/ownership)
error[E0596]: cannot borrow `*some_string` as mutable, as it is behind a `&amp;` reference
 --&gt; src/main.rs:8:5
  |
7 | fn change(some_string: &amp;String) {
  |                        ------- help: consider changing this to be a mutable reference: `&amp;mut String`
8 |     some_string.push_str(&quot;, world&quot;);
  |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ `some_string` is a `&amp;` reference, so the data it refers to cannot be borrowed as mutable

For more information about this error, try `rustc --explain E0596`.
error: could not compile `ownership` due to previous error
</code></pre>
<p>Just as variables are immutable by default, so are references. We’re not
allowed to modify something we have a reference to.</p>
<h3 id="mutable-references"><a class="header" href="#mutable-references">Mutable References</a></h3>
<p>We can fix the code from Listing 4-6 to allow us to modify a borrowed value
with just a few small tweaks that use, instead, a <em>mutable reference</em>:</p>
<p><span class="filename">Filename: src/main.rs</span></p>
<pre><pre class="playground"><code class="language-rust">fn main() {
    let mut s = String::from(&quot;hello&quot;);

    change(&amp;mut s);
}

fn change(some_string: &amp;mut String) {
    some_string.push_str(&quot;, world&quot;);
}
</code></pre></pre>
<pre><code class="language-rust ignore does_not_compile"><span class="boring">fn main() {
</span>    let mut s = String::from(&quot;hello&quot;);

    let r1 = &amp;mut s;
    let r2 = &amp;mut s;

    println!(&quot;{}, {}&quot;, r1, r2);
<span class="boring">}
</span></code></pre>
"""


def test_error_index_examples_carry_the_whole_program_rustdoc_tests():
    examples = corpus.error_index_examples(ERROR_INDEX)
    assert [(e.section, e.broken) for e in examples] == [
        ("E0384", True), ("E0384", False), ("E0608", True), ("E0608", False)]
    first = examples[0]
    assert first.error_code == "E0384" and first.edition == "2015"
    # From the "Run" link: the `#![allow(unused)]` rustdoc adds, the comment, decoded entities.
    assert first.code.startswith("#![allow(unused)]\nfn main() {\n    let x = 3;")
    assert "// error, reassignment of immutable variable" in first.code
    # A block without its own `fn main` is wrapped in one, as rustdoc does.
    wrapped = "#![allow(unused)]\nfn main() {\n0u8[2]; // error: cannot index into a value of type `u8`\n}"
    assert examples[2].code == wrapped


def test_book_listings_keep_hidden_lines_and_take_the_printed_error_code():
    examples = corpus.book_examples(BOOK, "ch04-02-references-and-borrowing")
    assert [(e.broken, e.error_code) for e in examples] == [(True, "E0596"), (False, None), (True, None)]
    assert examples[0].edition == "2021"
    assert "change(&s);" in examples[0].code and "change(&mut s);" in examples[1].code
    hidden = examples[2].code
    assert hidden.count("fn main()") == 1 and hidden.startswith("#![allow(unused)]\nfn main() {")
    assert "let r2 = &mut s;" in hidden


def test_a_broken_program_is_paired_only_with_its_own_correction():
    examples = corpus.error_index_examples(ERROR_INDEX) + corpus.book_examples(BOOK, "ch04-02")
    cases, dropped = corpus.pair(examples)
    by_name = {c.name: c for c in cases}
    assert dropped == {}
    assert set(by_name) == {"error-index:E0384#0", "error-index:E0608#0", "book:ch04-02#0", "book:ch04-02#2"}
    e0384 = by_name["error-index:E0384#0"]
    assert e0384.partner == "error-index:E0384#1" and "let mut x = 3;" in e0384.fixed
    listing = by_name["book:ch04-02#0"]
    assert listing.partner == "book:ch04-02#1" and listing.similarity >= corpus.SAME_PROGRAM
    # `0u8[2]` and a program indexing a Vec are not one program corrected: no intended fix.
    e0608 = by_name["error-index:E0608#0"]
    assert e0608.fixed is None and e0608.similarity < corpus.SAME_PROGRAM and e0608.notes
    # Nothing compiling comes after the last broken listing.
    assert by_name["book:ch04-02#2"].fixed is None


def test_tokens_ignore_formatting_and_comments_but_not_code():
    a = corpus.tokens("fn f(a: u8,) { g(&&a) } // done")
    assert a == corpus.tokens("fn f(a: u8) {\n    g(& &a)\n}")
    assert a != corpus.tokens("fn f(a: u8) { g(&a) }")
    assert corpus.tokens("/// docs\nfn f() {}") != corpus.tokens("fn f() {}")
    outer, inner = corpus.tokens("/// a\nfn f() {}"), corpus.tokens("//! a\nfn f() {}")
    assert outer == corpus.tokens("/** b */\nfn f() {}") != inner
    assert corpus.tokens('let s = "a // not a comment";')[-2] == '"a // not a comment"'


def test_edit_distance_counts_insertions_and_deletions():
    broken, fixed = corpus.tokens("let x = 3; x = 5;"), corpus.tokens("let mut x = 3; x = 5;")
    assert corpus.edit_distance(broken, fixed) == 1
    assert corpus.edit_distance(broken, corpus.tokens("let y = 3; y = 5;")) == 4
    assert corpus.edit_distance([], fixed) == len(fixed)
    assert corpus.hunks(broken, fixed) == 1


def test_the_judges_tokens_ignore_where_an_import_sits_and_what_a_fresh_name_is_called():
    body = "let m: HashMap<u8, u8> = HashMap::new();"
    inside = corpus.normal_tokens(f"fn main() {{\n    use std::collections::HashMap;\n    {body}\n}}")
    on_top = corpus.normal_tokens(f"use std::collections::HashMap;\nfn main() {{ {body} }}")
    assert inside == on_top
    known = set(corpus.normal_tokens("let p = bar(&foo());"))
    value = corpus.fresh_names_renamed(corpus.normal_tokens("let value = foo(); let p = bar(&value);"), known)
    binding = corpus.fresh_names_renamed(corpus.normal_tokens("let binding = foo(); let p = bar(&binding);"), known)
    assert value == binding
    # Only names a program binds are fresh: a different method called is a different program.
    clone = corpus.fresh_names_renamed(corpus.normal_tokens("let p = bar(&foo().clone());"), known)
    owned = corpus.fresh_names_renamed(corpus.normal_tokens("let p = bar(&foo().to_owned());"), known)
    assert clone != owned
    aliases = [corpus.fresh_names_renamed(corpus.normal_tokens(f"use bar::foo as {n};"), set()) for n in ("a", "b")]
    assert aliases[0] == aliases[1]
