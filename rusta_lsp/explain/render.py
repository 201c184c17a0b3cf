"""Explanations as Markdown (hover, CLI JSON), terminal text, and the JSON of docs/contracts.md.

Everything shown is a claim with its anchors: the renderers add links and layout, never facts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .claims import Anchor, Explanation


def fragment(anchor: Anchor) -> str:
    if anchor.start_line == anchor.end_line:
        return f"#L{anchor.start_line}"
    return f"#L{anchor.start_line}-L{anchor.end_line}"


def relative_link(anchor: Anchor) -> str:
    return anchor.path + fragment(anchor)


def file_uri_link(root: Path) -> Callable[[Anchor], str]:
    """Clickable editor links: file URIs with a #L<start>-L<end> fragment."""
    base = Path(root).resolve()

    def link(anchor: Anchor) -> str:
        return (base / anchor.path).as_uri() + fragment(anchor)

    return link


def _label(anchor: Anchor) -> str:
    lines = str(anchor.start_line) if anchor.start_line == anchor.end_line else f"{anchor.start_line}-{anchor.end_line}"
    return f"{anchor.path}:{lines}"


def _escape(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


HOVER_CLAIMS = 5  # what a hover shows: the definition, the doc and the most telling claims


def markdown(explanation: Explanation, link: Callable[[Anchor], str] = relative_link,
             limit: int | None = None) -> str:
    """The explanation as Markdown; `limit`: show only the first claims (the hover), the rest
    are in the full view (`rusta/explain`, `rusta explain`)."""
    heading = f"**`{explanation.symbol}`**" if explanation.symbol else "**Rusta**"
    if explanation.kind and not explanation.abstained:
        heading += f" · {explanation.kind}"
    if explanation.confidence is not None and explanation.confidence < 1.0:
        heading += f" · resolved with confidence {explanation.confidence:.2f}"
    lines = [heading, ""]
    if explanation.abstained:
        lines += [f"_Rusta abstains: {explanation.reason}_", ""]
    shown = explanation.claims if limit is None else explanation.claims[:limit]
    for claim in shown:
        refs = " ".join(f"[{_escape(_label(a))}]({link(a)})" for a in claim.anchors)
        lines.append(f"- {claim.text} {refs}")
    if len(shown) < len(explanation.claims):
        more = len(explanation.claims) - len(shown)
        lines.append(f"- _{more} more claim{'s' if more > 1 else ''}: Rusta: Explain symbol at cursor_")
    if explanation.prose:
        lines += ["", "_Generated summary (each sentence tied to its evidence):_", ""]
        for claim in explanation.prose:
            refs = " ".join(f"[{_escape(_label(a))}]({link(a)})" for a in claim.anchors)
            lines.append(f"> {claim.text} {refs}")
    return "\n".join(lines).rstrip() + "\n"


def terminal(explanation: Explanation) -> str:
    heading = explanation.symbol or "(nothing)"
    if explanation.kind and not explanation.abstained:
        heading += f" ({explanation.kind})"
    if explanation.confidence is not None and explanation.confidence < 1.0:
        heading += f", resolved with confidence {explanation.confidence:.2f}"
    lines = [heading]
    if explanation.abstained:
        lines.append(f"  abstained: {explanation.reason}")
    for claim in [*explanation.claims, *explanation.prose]:
        lines.append(f"  • {claim.text}")
        for anchor in claim.anchors:
            lines.append(f"      {_label(anchor)} [{anchor.kind}]")
    return "\n".join(lines) + "\n"


def to_json(explanation: Explanation, link: Callable[[Anchor], str] = relative_link) -> dict:
    return {
        "symbol": explanation.symbol,
        "abstained": explanation.abstained,
        "reason": explanation.reason,
        "claims": [c.to_json() for c in [*explanation.claims, *explanation.prose]],
        "markdown": markdown(explanation, link),
    }
