// Pure: the explain JSON of docs/contracts.md -> Markdown whose anchors are links, and those links back to
// anchors. Links are relative to the workspace root (`src/lib.rs#L3-L9`, as the server writes
// them): Markdown renderers refuse file: URIs, so the view resolves them itself.

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

export function anchorLink(anchor: Anchor): string {
  const lines = anchor.end_line > anchor.start_line ? `L${anchor.start_line}-L${anchor.end_line}` : `L${anchor.start_line}`;
  return `${encodeURI(anchor.path)}#${lines}`;
}

/** A link written by anchorLink (or the server) back to a relative path and 1-based lines. */
export function parseAnchorLink(href: string): { path: string; startLine: number; endLine: number } | undefined {
  const match = /^([^#:?]+)#L(\d+)(?:-L(\d+))?$/.exec(href);
  if (!match || match[1].startsWith("/") || match[1].split("/").includes("..")) {
    return undefined;
  }
  const startLine = Number(match[2]);
  return { path: decodeURI(match[1]), startLine, endLine: match[3] ? Number(match[3]) : startLine };
}

/** The server's Markdown followed by one link per distinct anchor. */
export function explainMarkdown(result: ExplainResult): string {
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
        evidence.push(`- ${anchor.kind}: [${label}](${anchorLink(anchor)})`);
      }
    }
  }
  if (evidence.length > 0) {
    parts.push("## Evidence", evidence.join("\n"));
  }
  return parts.join("\n\n") + "\n";
}

/**
 * The webview page around rendered Markdown: no scripts but ours (nonce), and anchor clicks are
 * posted to the extension, which opens the file at the anchored lines.
 */
export function explainPage(bodyHtml: string, nonce: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); line-height: 1.5; }
a { color: var(--vscode-textLink-foreground); }
code { font-family: var(--vscode-editor-font-family); }
</style></head>
<body>${bodyHtml}
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
document.addEventListener("click", (event) => {
  const link = event.target.closest("a");
  if (link) {
    event.preventDefault();
    vscode.postMessage({ href: link.getAttribute("href") });
  }
});
</script></body></html>`;
}
