// The VS Code side of Rusta: starts `rusta serve` over stdio beside rust-analyzer and adds
// commands and a language status item. Logic worth testing lives in the pure modules.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  FeatureState,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
} from "vscode-languageclient/node";
import { changed, companionReport, CompanionReport, RUST_ANALYZER_ID } from "./companion";
import { Discovery, findServer } from "./discovery";
import { ExplainResult, explainMarkdown, explainPage, parseAnchorLink } from "./explain";
import { RestartBudget } from "./restarts";
import { CLIENT_SETTINGS, SERVER_SETTINGS, redacted, toServerOptions, touches } from "./settings";
import { HeartbeatParams, humanBytes, ProgressValue, ServerStatus, StatusModel } from "./status";

let rusta: Rusta | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  rusta = new Rusta(context);
  await rusta.start();
}

export async function deactivate(): Promise<void> {
  await rusta?.stop();
}

function setting<T>(key: string): T | undefined {
  return vscode.workspace.getConfiguration("rusta").get<T>(key);
}

class Rusta {
  private client?: LanguageClient;
  private readonly output = vscode.window.createOutputChannel("Rusta");
  private readonly statusItem = vscode.languages.createLanguageStatusItem("rusta.status", { language: "rust" });
  private readonly status = new StatusModel();
  private readonly budget = new RestartBudget();
  private explainPanel?: vscode.WebviewPanel;
  private explainRoot?: vscode.Uri;
  private lastCompanionReport?: CompanionReport;
  private companionTimer?: NodeJS.Timeout;

  constructor(context: vscode.ExtensionContext) {
    this.statusItem.name = "Rusta";
    this.statusItem.command = { title: "Show logs", command: "rusta.showLogs" };
    this.render();
    const commands: [string, () => unknown][] = [
      ["rusta.restart", () => this.restart()],
      ["rusta.explain", () => this.explainAtCursor()],
      ["rusta.drill", () => this.drillNow()],
      ["rusta.report", () => this.showReport()],
      ["rusta.showLogs", () => this.output.show(true)],
      ["rusta.clean", () => this.cleanShadow()],
    ];
    context.subscriptions.push(
      this.output,
      this.statusItem,
      ...commands.map(([id, run]) => vscode.commands.registerCommand(id, run)),
      vscode.workspace.onDidChangeConfiguration((event) => this.configurationChanged(event)),
      // Limited mode until the user trusts the folder: then cargo and the heartbeat may run.
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.sendSettings("workspace trusted, settings changed")),
      vscode.languages.onDidChangeDiagnostics(() => this.companionChanged()),
      vscode.extensions.onDidChange(() => this.companionChanged()),
    );
    this.status.trust(vscode.workspace.isTrusted);
  }

  async start(): Promise<void> {
    const found = await this.discover();
    if (!found.ok) {
      this.status.failed(found.message);
      this.render();
      this.output.appendLine(`[rusta] ${found.message} Install: ${found.installCommand}`);
      void this.reportMissingServer(found);
      return;
    }
    const { command, args, source } = found.server;
    this.output.appendLine(`[rusta] starting ${command} ${args.join(" ")} (found via ${source})`);
    const serverOptions: ServerOptions = { command, args };
    // This start's server. A server that dies shows up twice when it dies while initialising
    // (its initialize fails and its connection closes): it counts once against the budget, and a
    // restart is a new client, so the old one's clean-up can never touch the new server.
    const server = {};
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "rust" }],
      diagnosticCollectionName: "rusta",
      outputChannel: this.output,
      initializationOptions: this.settingsForServer(),
      initializationFailedHandler: (error) => {
        this.serverStopped(server, `the server failed to initialise (${String(error)})`);
        return false; // never initialize again on the connection of a server that failed
      },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          this.serverStopped(server, "the server stopped");
          // This client is done either way; a restart is a new client (serverStopped).
          return { action: CloseAction.DoNotRestart, handled: true, message: "[rusta] the connection closed" };
        },
      },
    };
    const client = new LanguageClient("rusta", "Rusta", serverOptions, clientOptions);
    client.registerFeature(new ProgressStatusFeature(client, (token, value) => this.progress(token, value)));
    client.onDidChangeState((event) => {
      if (event.newState === State.Running) {
        this.status.started(source);
        this.render();
      }
    });
    client.onNotification("rusta/heartbeat", (params: HeartbeatParams) => {
      this.status.heartbeatChanged(params);
      this.render();
    });
    client.onNotification("rusta/status", (params: ServerStatus) => {
      this.status.statusChanged(params);
      this.render();
    });
    this.client = client;
    try {
      await client.start();
      this.lastCompanionReport = undefined;
      this.companionChanged();
    } catch (err) {
      if (this.budget.handled(server)) {
        return; // it died while initialising: restarted, or given up with a message
      }
      this.status.failed(`The server did not start: ${String(err)}`);
      this.render();
      void vscode.window
        .showErrorMessage(`Rusta: the server (${command}) did not start. See the logs.`, "Show logs")
        .then((choice) => choice && this.output.show(true));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && client.state !== State.Stopped) {
      await client.stop().catch((err) => this.output.appendLine(`[rusta] stop failed: ${String(err)}`));
    }
  }

  private async restart(): Promise<void> {
    this.budget.reset();
    await this.stop();
    await this.start();
  }

  private settingsForServer() {
    return toServerOptions((key) => setting(key), vscode.workspace.isTrusted);
  }

  private sendSettings(why: string): void {
    this.status.trust(vscode.workspace.isTrusted);
    this.render();
    if (this.client?.state !== State.Running) {
      return;
    }
    const settings = this.settingsForServer();
    this.output.appendLine(`[rusta] ${why}: ${JSON.stringify(redacted(settings))}`);
    void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings });
  }

  /**
   * rust-analyzer beside Rusta: whether its extension is there, and its errors, for the server
   * (`rusta/companion`: a clean save it checked needs no second check) and the status item.
   * Debounced: diagnostics change file by file.
   */
  private companionChanged(): void {
    clearTimeout(this.companionTimer);
    this.companionTimer = setTimeout(() => {
      const found = vscode.extensions.getExtension(RUST_ANALYZER_ID) !== undefined;
      this.status.companion(found);
      this.render();
      if (!found || this.client?.state !== State.Running) {
        return;
      }
      const report = companionReport(vscode.languages.getDiagnostics().map(([uri, ds]) => [uri.toString(), ds]));
      if (changed(this.lastCompanionReport, report)) {
        this.lastCompanionReport = report;
        void this.client.sendNotification("rusta/companion", report);
      }
    }, 250);
  }

  private async cleanShadow(): Promise<void> {
    const result = (await this.executeServerCommand("rusta.cleanShadow")) as
      | { freedBytes?: number; held?: number[] }
      | undefined;
    if (result?.freedBytes !== undefined) {
      const held = result.held?.length ? ` (${result.held.length} slot(s) in use by another Rusta kept)` : "";
      void vscode.window.showInformationMessage(`Rusta: shadow workspace cleaned, ${humanBytes(result.freedBytes)} freed${held}`);
    }
  }

  private async discover(): Promise<Discovery> {
    return findServer({
      serverPath: setting<string>("server.path"),
      pythonPath: setting<string>("server.pythonPath"),
      interpreter: await pythonExtensionInterpreter(),
      searchPath: process.env.PATH,
    });
  }

  private async reportMissingServer(found: Extract<Discovery, { ok: false }>): Promise<void> {
    const choice = await vscode.window.showErrorMessage(
      `Rusta: ${found.message} Install it with \`${found.installCommand}\`, or set rusta.server.path.`,
      "Copy install command",
      "Open settings",
    );
    if (choice === "Copy install command") {
      await vscode.env.clipboard.writeText(found.installCommand);
    } else if (choice === "Open settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "rusta.server");
    }
  }

  /** A server stopped without being asked to: start a new client, unless the budget is spent. */
  private serverStopped(server: object, why: string): void {
    const verdict = this.budget.crashed(server, Date.now());
    if (verdict === "handled") {
      return;
    }
    if (verdict === "restart") {
      this.output.appendLine(`[rusta] ${why}; restarting`);
      void this.start();
      return;
    }
    const message =
      `Rusta: the server stopped ${this.budget.recentCrashes} times within ${this.budget.windowMs / 60000} minutes ` +
      `and will not be restarted automatically. See "Rusta: Show logs", then run "Rusta: Restart server".`;
    this.output.appendLine(`[rusta] ${why}; not restarting`);
    this.status.failed(message);
    this.render();
    void vscode.window.showErrorMessage(message, "Show logs").then((choice) => choice && this.output.show(true));
  }

  private configurationChanged(event: vscode.ConfigurationChangeEvent): void {
    const affects = (section: string) => event.affectsConfiguration(section);
    if (touches(affects, CLIENT_SETTINGS)) {
      void this.restart();
    } else if (touches(affects, SERVER_SETTINGS)) {
      this.sendSettings("settings changed");
    }
  }

  private progress(token: string | number, value: ProgressValue): void {
    this.status.progress(token, value);
    this.render();
  }

  private render(): void {
    const view = this.status.view();
    this.statusItem.text = view.text;
    this.statusItem.detail = view.detail;
    this.statusItem.busy = view.busy;
    this.statusItem.severity = view.error ? vscode.LanguageStatusSeverity.Error : vscode.LanguageStatusSeverity.Information;
  }

  private runningClient(): LanguageClient | undefined {
    if (this.client?.state === State.Running) {
      return this.client;
    }
    void vscode.window.showWarningMessage("Rusta: the server is not running. See \"Rusta: Show logs\".");
    return undefined;
  }

  private async explainAtCursor(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const client = this.runningClient();
    if (!editor || !client) {
      return;
    }
    const document = editor.document;
    const result: ExplainResult = await client.sendRequest("rusta/explain", {
      textDocument: { uri: document.uri.toString() },
      position: editor.selection.active,
    });
    this.explainRoot =
      vscode.workspace.getWorkspaceFolder(document.uri)?.uri ?? vscode.Uri.file(path.dirname(document.uri.fsPath));
    const html = await vscode.commands.executeCommand<string>("markdown.api.render", explainMarkdown(result));
    const panel = this.explainView();
    panel.title = `Rusta: ${result.symbol || "explanation"}`;
    panel.webview.html = explainPage(html, crypto.randomBytes(16).toString("hex"), panel.webview.cspSource);
    panel.reveal(vscode.ViewColumn.Beside, true);
  }

  private explainView(): vscode.WebviewPanel {
    if (this.explainPanel) {
      return this.explainPanel;
    }
    const panel = vscode.window.createWebviewPanel(
      "rusta.explain",
      "Rusta",
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [] },
    );
    panel.onDidDispose(() => (this.explainPanel = undefined));
    panel.webview.onDidReceiveMessage((message: { href?: string }) => this.openAnchor(message.href ?? ""));
    this.explainPanel = panel;
    return panel;
  }

  /** Opens an anchor link of the explanation view at its lines, in the first editor group. */
  private async openAnchor(href: string): Promise<void> {
    const anchor = parseAnchorLink(href);
    if (!anchor || !this.explainRoot) {
      return;
    }
    const uri = vscode.Uri.joinPath(this.explainRoot, ...anchor.path.split("/"));
    const selection = new vscode.Range(anchor.startLine - 1, 0, anchor.endLine - 1, 0);
    await vscode.window.showTextDocument(uri, { selection, viewColumn: vscode.ViewColumn.One });
  }

  private async executeServerCommand(command: string): Promise<unknown> {
    const client = this.runningClient();
    if (!client) {
      return undefined;
    }
    // The active Rust file, else the first folder: one server may serve several Cargo workspaces,
    // and it runs the command in the one this URI belongs to.
    const editor = vscode.window.activeTextEditor?.document;
    const target = editor?.languageId === "rust" && editor.uri.scheme === "file" ? editor.uri : vscode.workspace.workspaceFolders?.[0]?.uri;
    return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: target ? [target.toString()] : [] });
  }

  private async drillNow(): Promise<void> {
    // The server answers at once; the drill itself shows in the status item ($/progress, heartbeat).
    const result = (await this.executeServerCommand("rusta.drillNow")) as { state?: string } | undefined;
    if (result !== undefined) {
      this.output.appendLine(`[rusta] drill: ${JSON.stringify(result)}`);
      void vscode.window.showInformationMessage(`Rusta: drill ${result?.state ?? "requested"}`);
    }
  }

  private async showReport(): Promise<void> {
    const result = (await this.executeServerCommand("rusta.showReport")) as { path?: string } | undefined;
    if (!result?.path) {
      return;
    }
    const dir = vscode.Uri.file(path.dirname(result.path));
    const panel = vscode.window.createWebviewPanel("rusta.report", "Rusta report", vscode.ViewColumn.Active, {
      localResourceRoots: [dir],
    });
    // A <base> lets the report's relative images load from its own folder.
    const base = `<base href="${panel.webview.asWebviewUri(dir).toString()}/">`;
    const html = await fs.promises.readFile(result.path, "utf8");
    panel.webview.html = html.includes("<head>") ? html.replace("<head>", `<head>${base}`) : base + html;
  }
}

/**
 * Takes over window/workDoneProgress/create (registered after the built-in progress feature,
 * so its handler wins) to feed $/progress into the status item.
 */
class ProgressStatusFeature implements StaticFeature {
  constructor(
    private readonly client: LanguageClient,
    private readonly onProgress: (token: string | number, value: ProgressValue) => void,
  ) {}

  fillClientCapabilities(capabilities: { window?: { workDoneProgress?: boolean } }): void {
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
      const subscription = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
        this.onProgress(token, value);
        if (value.kind === "end") {
          subscription.dispose();
        }
      });
    });
  }

  getState(): FeatureState {
    return { kind: "static" };
  }

  clear(): void {}
}

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string }): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The active interpreter of the Python extension, when it is installed. */
async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const active = api.environments?.getActiveEnvironmentPath(resource);
    if (!active) {
      return undefined;
    }
    const resolved = await api.environments?.resolveEnvironment(active);
    return resolved?.executable?.uri?.fsPath ?? active.path;
  } catch {
    return undefined;
  }
}
