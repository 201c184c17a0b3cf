// Pure: DESIGN.md's explain JSON -> Markdown whose anchors are clickable links.

export interface Anchor {
  path: string;
  start_line: number;
  end_line: number;
  kind: string;
}

export interface ExplainResult {
  symbol: string;
  abstained: boolean;
  reason: string | null;
  claims: { text: string; anchors: Anchor[] }[];
  markdown: string;
}

export function anchorLabel(anchor: Anchor): string {
  const lines = anchor.end_line > anchor.start_line ? `${anchor.start_line}-${anchor.end_line}` : `${anchor.start_line}`;
  return `${anchor.path}:${lines}`;
}

/**
 * The server's Markdown followed by one link per distinct anchor.
 * `link` turns an anchor (path relative to the workspace root, 1-based lines) into a URI.
 */
export function explainMarkdown(result: ExplainResult, link: (anchor: Anchor) => string): string {
  const parts = [`# ${result.symbol || "Rusta"}`, result.markdown.trim()];
  if (result.abstained && result.reason && !result.markdown.includes(result.reason)) {
    parts.push(`_Rusta abstained: ${result.reason}_`);
  }
  const seen = new Set<string>();
  const evidence: string[] = [];
  for (const claim of result.claims) {
    for (const anchor of claim.anchors) {
      const label = anchorLabel(anchor);
      if (!seen.has(label)) {
        seen.add(label);
        evidence.push(`- ${anchor.kind}: [${label}](${link(anchor)})`);
      }
    }
  }
  if (evidence.length > 0) {
    parts.push("## Evidence", evidence.join("\n"));
  }
  return parts.join("\n\n") + "\n";
}
