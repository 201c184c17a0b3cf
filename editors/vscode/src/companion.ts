// Pure: what the extension tells the server of rust-analyzer (`rusta/companion`), from the
// diagnostics VS Code holds. No `vscode` import, so unit tests run under plain node.
// rust-analyzer's own `$/progress` is its client's: other extensions cannot see it. What they can
// see is its diagnostics; the server watches cargo's lock on the build directory for the rest.

export const RUST_ANALYZER_ID = "rust-lang.rust-analyzer";
/** Sources of rust-analyzer's diagnostics: its flycheck (rustc, clippy) and its own analysis. */
export const COMPANION_SOURCES = new Set(["rustc", "rust-analyzer", "clippy"]);
/** VS Code's DiagnosticSeverity.Error (0); LSP's is 1. */
const VSCODE_ERROR = 0;
const MAX_DIAGNOSTICS = 200;

export interface Position {
  line: number;
  character: number;
}

/** The shape of a vscode.Diagnostic this module reads. */
export interface EditorDiagnostic {
  severity: number;
  source?: string;
  message: string;
  code?: string | number | { value: string | number };
  range: { start: Position; end: Position };
}

export interface CompanionReport {
  name: string;
  errors: number;
  diagnostics: { uri: string; range: { start: Position; end: Position }; message: string; code?: string; source?: string }[];
}

/** rust-analyzer's errors in Rust files: their count and the first ones, LSP-shaped, each with its URI. */
export function companionReport(entries: [string, readonly EditorDiagnostic[]][]): CompanionReport {
  const report: CompanionReport = { name: "rust-analyzer", errors: 0, diagnostics: [] };
  for (const [uri, diagnostics] of entries) {
    if (!uri.endsWith(".rs")) {
      continue;
    }
    for (const d of diagnostics) {
      if (d.severity !== VSCODE_ERROR || !COMPANION_SOURCES.has(d.source ?? "")) {
        continue;
      }
      report.errors++;
      if (report.diagnostics.length < MAX_DIAGNOSTICS) {
        const code = typeof d.code === "object" ? d.code.value : d.code;
        report.diagnostics.push({
          uri,
          range: {
            start: { line: d.range.start.line, character: d.range.start.character },
            end: { line: d.range.end.line, character: d.range.end.character },
          },
          message: d.message,
          code: code === undefined ? undefined : String(code),
          source: d.source,
        });
      }
    }
  }
  return report;
}

/** A report worth sending: the first one, or one whose errors differ from the last sent. */
export function changed(last: CompanionReport | undefined, next: CompanionReport): boolean {
  return last === undefined || JSON.stringify(last) !== JSON.stringify(next);
}
