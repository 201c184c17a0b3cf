"""CPU per save with rust-analyzer and Rusta in one editor (issue 15), and time to a verified fix.

Each set-up starts fresh servers on the same workspace and drives them the way an editor does
(didOpen, then per save: the new text on disk, didChange, didSave to every server):

  ra      rust-analyzer alone: its flycheck (`cargo check` into the workspace's target/) on save;
  before  rust-analyzer and the Rusta to compare with (`--before`: its `rusta` executable, e.g.
          main's checkout where this work started), the client forwarding as below; with
          `--uncoordinated-before`, forwarding nothing (a Rusta from before issue 15);
  after   rust-analyzer and this Rusta, the client forwarding rust-analyzer's flycheck progress,
          error count and error diagnostics as `rusta/companion`, as the editor clients do.

Per save, once every process is quiet again: CPU seconds (user + system) of both servers and of
everything they ran (cargo, rustc, rust-analyzer's proc-macro server), from /proc, and Rusta's
own share. One clean save after start-up is not measured (what a session loads once). Clean saves
append a comment (an incremental check of one crate); broken saves delete regex's
`use std::collections::HashMap;` from src/compile.rs (rustc's E0412/E0433 where it is used, which
Rusta fixes by putting the import back; each broken save with a comment of its own), then a clean
save puts the file back (not measured). For broken saves the time from the save to Rusta's hint is compared
with the floor of one incremental check: rust-analyzer's own flycheck of the same save, timed by
its `$/progress` in the `ra` set-up of the same run.

    python bench/coexist.py regex --before /path/to/old/.venv/bin/rusta
    python bench/coexist.py corpus --before ... --clean 2 --broken 1

`regex` is Debian's regex crate; `corpus` a ~200k-line workspace of Debian's regex, serde,
serde_json, syn and tokio (dev-dependencies dropped so it builds offline, lints capped at warnings:
serde's `deny(unused_imports)` fails on today's rustc). Debian ships no dev-dependencies, so the
test targets do not compile: both servers check the library targets only (rust-analyzer's
`checkOnSave.allTargets` off, Rusta's `cargo.checkArgs` without `--all-targets`), the same work. Needs RUST_ANALYZER and
RUST_SRC_PATH (editors/scripts/install-tools.sh installs both). Run it under `nice` on a quiet
machine: the figures are CPU seconds, but another load on 2 cores stretches the waits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from debian_crates import OFFLINE_CONFIG, REGISTRY, copy_debian_crate  # noqa: E402

OUT = BENCH / "out"
CORPUS = ("regex-1", "serde-1", "serde_json-1", "syn-1", "tokio-1")
TICK = os.sysconf("SC_CLK_TCK")
EDITED = "src/compile.rs"  # in regex
IMPORT = "use std::collections::HashMap;\n"


# --- workspaces ---------------------------------------------------------------------------------


def _crate(prefix: str) -> Path:
    found = max(REGISTRY.glob(f"{prefix}.*"), default=None)
    if found is None:
        sys.exit(f"missing Debian crate {prefix}: run `make bench-crates`")
    return found


def regex_workspace() -> tuple[Path, str]:
    root = OUT / "coexist-regex"
    if not (root / "Cargo.toml").is_file():
        shutil.rmtree(root, ignore_errors=True)
        copy_debian_crate(_crate("regex-1").name, root)
    return root, EDITED


def corpus_workspace() -> tuple[Path, str]:
    root = OUT / "coexist-corpus"
    crates = [_crate(c) for c in CORPUS]
    if not (root / "Cargo.toml").is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for crate in crates:
            copy_debian_crate(crate.name, root / crate.name)
            shutil.rmtree(root / crate.name / ".cargo")
        members = ", ".join(f'"{c.name}"' for c in crates)
        (root / "Cargo.toml").write_text(f'[workspace]\nmembers = [{members}]\nresolver = "2"\n')
        (root / ".cargo").mkdir()
        (root / ".cargo" / "config.toml").write_text(OFFLINE_CONFIG + '[build]\nrustflags = ["--cap-lints", "warn"]\n')
    return root, f"{crates[0].name}/{EDITED}"


def rust_lines(root: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("target", ".git")]
        total += sum((Path(dirpath) / f).read_bytes().count(b"\n") for f in filenames if f.endswith(".rs"))
    return total


# --- CPU of a process and everything it ran -------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based in proc(5).
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / TICK


def tree_cpu(root_pids: list[int]) -> float:
    """CPU seconds of the processes and their live descendants (finished ones count in their
    parent's children time once waited for)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    total, todo, seen = 0.0, list(root_pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == pid)
    return total


# --- a language server over stdio -----------------------------------------------------------------


class Server:
    """One server process: JSON-RPC over stdio, notifications recorded with their time."""

    def __init__(self, name: str, cmd: list[str], root: Path, env: dict | None = None):
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root,
                                     stderr=open(OUT / f"coexist-{name}.log", "w"), env=env)
        self.lock = threading.Lock()
        self.events: list[tuple[float, str, dict]] = []
        self.answers: dict[int, dict] = {}
        self.on_notification = lambda method, params: None
        self._ids = iter(range(1, 1 << 30))
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, message: dict) -> None:
        data = json.dumps(message).encode()
        with self.lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
            self.proc.stdin.flush()

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params, timeout: float = 600.0):
        ident = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while ident not in self.answers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no answer to {method}")
            time.sleep(0.02)
        return self.answers.pop(ident).get("result")

    def _read(self) -> None:
        stream = self.proc.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if not line.strip():
                    break
                key, _, value = line.decode().partition(":")
                if key.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            if "id" in message and "method" in message:  # a request to the client: accept it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.events.append((time.monotonic(), message["method"], message.get("params") or {}))
                self.on_notification(message["method"], message.get("params") or {})
            else:
                self.answers[message["id"]] = message

    def start(self, root: Path, options: dict | None = None) -> None:
        uri = root.as_uri()
        caps = {"window": {"workDoneProgress": True},
                "textDocument": {"publishDiagnostics": {"relatedInformation": True}}}
        self.request("initialize", {"processId": os.getpid(), "rootUri": uri, "capabilities": caps,
                                    "workspaceFolders": [{"uri": uri, "name": root.name}],
                                    "initializationOptions": options or {}})
        self.notify("initialized", {})

    def progress(self, since: float, title: str) -> list[tuple[float, float | None]]:
        """(begin, end or None) of the `$/progress` jobs whose title contains `title`, begun after `since`."""
        begun: dict[str, float] = {}
        jobs = []
        for at, method, params in list(self.events):
            if method != "$/progress" or at < since:
                continue
            value, token = params.get("value", {}), str(params.get("token"))
            if value.get("kind") == "begin" and title in (value.get("title") or ""):
                begun[token] = at
                jobs.append(token)
            elif value.get("kind") == "end" and token in begun:
                begun[token] = (begun[token], at)
        return [v if isinstance(v, tuple) else (v, None) for v in (begun[t] for t in jobs)]

    def stop(self) -> None:
        try:
            self.request("shutdown", None, timeout=30)
            self.notify("exit", None)
            self.proc.wait(30)
        except Exception:  # noqa: BLE001 — a server that does not stop is killed
            self.proc.kill()


# --- one set-up -------------------------------------------------------------------------------


class Setup:
    def __init__(self, kind: str, root: Path, rel: str, rusta: str | None, memory: Path, vectors: bool = True,
                 forward: bool = True):
        self.kind, self.root, self.rel = kind, root, rel
        self.vectors = vectors
        self.path = root / rel
        self.uri = self.path.as_uri()
        self.version = 1
        env = dict(os.environ, RUST_SRC_PATH=os.environ["RUST_SRC_PATH"])
        self.ra = Server("ra", [os.environ["RUST_ANALYZER"]], root, env)
        self.rusta = None
        if rusta:
            self.rusta = Server(kind, [rusta, "serve"], root, dict(os.environ, XDG_CACHE_HOME=str(memory / "cache")))
        self.errors_by_uri: dict[str, list[dict]] = {}
        self.flychecks: set[str] = set()
        self.last_report: dict | None = None
        self.debounce: threading.Timer | None = None
        self.forward = bool(rusta) and forward
        if self.forward:
            self.ra.on_notification = self._forward

    def _companion(self, **params) -> None:
        errors = [{"uri": uri, **{k: d.get(k) for k in ("range", "message", "code", "source")}}
                  for uri, ds in self.errors_by_uri.items() for d in ds]
        report = {"name": "rust-analyzer", "errors": len(errors), "diagnostics": errors[:200], **params}
        if params or report != self.last_report:  # the clients send the same errors once
            self.last_report = report
            self.rusta.notify("rusta/companion", report)

    def _forward(self, method: str, params: dict) -> None:
        """What the editor clients do: rust-analyzer's flycheck at once, its errors (count and
        diagnostics) 250 ms after its diagnostics last changed (they come file by file)."""
        if method == "textDocument/publishDiagnostics":
            self.errors_by_uri[params["uri"]] = [d for d in params["diagnostics"] if d.get("severity") == 1]
            if self.debounce is not None:
                self.debounce.cancel()
            self.debounce = threading.Timer(0.25, self._companion)
            self.debounce.start()
        elif method == "$/progress":
            value = params.get("value", {})
            token = str(params.get("token"))
            if value.get("kind") == "begin" and "cargo check" in (value.get("title") or ""):
                self.flychecks.add(token)
                self._companion(checking=True)
            elif value.get("kind") == "end" and token in self.flychecks:
                self.flychecks.discard(token)
                self._companion(checking=False)

    def servers(self) -> list[Server]:
        return [s for s in (self.ra, self.rusta) if s is not None]

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers()]

    def start(self, memory: Path, text: str) -> None:
        self.ra.start(self.root, {"checkOnSave": {"allTargets": False}})
        if self.rusta:
            self.rusta.start(self.root, {"memory": {"uri": str(memory)}, "heartbeat": {"enabled": False},
                                         "abstain": {"targetPrecision": 0.8},
                                         "cargo": {"checkArgs": ["check", "--workspace"]},
                                         # No model there: the memory keeps its full-text index only.
                                         **({} if self.vectors else {"model": {"embedding": str(memory / "no-model")}})})
        for server in self.servers():
            server.notify("textDocument/didOpen", {"textDocument": {"uri": self.uri, "languageId": "rust",
                                                                    "version": 1, "text": text}})
        if self.forward:
            self._companion(checking=False)

    def save(self, text: str) -> float:
        self.path.write_text(text)
        self.version += 1
        for server in self.servers():
            server.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                     "contentChanges": [{"text": text}]})
        at = time.monotonic()
        for server in self.servers():
            server.notify("textDocument/didSave", {"textDocument": {"uri": self.uri}})
        return at

    def quiet(self, since: float, timeout: float, need_rusta_check: bool) -> None:
        """Wait until rust-analyzer's flycheck of the save ended, Rusta answered it (a check or a
        skip), and no process used more than 2% of a core for 1.5 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ra_done = any(end for _, end in self.ra.progress(since, "cargo check"))
            rusta_done = (self.rusta is None or not need_rusta_check
                          or any(end for _, end in self.rusta.progress(since, "Rusta: checking fixes"))
                          or any(m == "rusta/status" and at > since and (p.get("lastCheck") or "").startswith("skipped")
                                 for at, m, p in list(self.rusta.events)))
            if ra_done and rusta_done:
                break
            time.sleep(0.2)
        cpu = tree_cpu(self.pids())
        while time.monotonic() < deadline:
            time.sleep(1.5)
            now = tree_cpu(self.pids())
            if now - cpu < 0.03:
                return
            cpu = now
        print(f"  [{self.kind}] not quiet after {timeout:.0f} s: measured as it is", flush=True)

    def hint_at(self, since: float) -> float | None:
        if self.rusta is None:
            return None
        for at, method, params in list(self.rusta.events):
            if at > since and method == "textDocument/publishDiagnostics" and params["uri"] == self.uri \
                    and params["diagnostics"]:
                return at - since
        return None

    def stop(self) -> None:
        for server in self.servers():
            server.stop()


def run_setup(kind: str, root: Path, rel: str, rusta: str | None, memory: Path, clean: int, broken: int,
              timeout: float, vectors: bool = True, forward: bool = True) -> dict:
    original = (root / rel).read_text()
    setup = Setup(kind, root, rel, rusta, memory, vectors, forward)
    started = time.monotonic()
    setup.start(memory, original)
    # Start-up (indexing, the first flycheck, Rusta's memory and its shadow's first build) is not a save.
    setup.quiet(started, timeout * 4, need_rusta_check=rusta is not None)
    print(f"  [{kind}] ready after {time.monotonic() - started:.0f} s ({tree_cpu(setup.pids()):.1f} CPU s)", flush=True)
    result = {"clean": [], "clean_rusta": [], "broken": [], "broken_rusta": [], "flycheck": [], "hint": []}

    def rusta_cpu() -> float:
        return tree_cpu([setup.rusta.proc.pid]) if setup.rusta else 0.0

    try:
        # Not measured: the first save loads what a session loads once (Rusta's embedding model
        # for the first vector a save needs).
        at = setup.save(original + "\n// rusta bench: the first save\n")
        setup.quiet(at, timeout, need_rusta_check=rusta is not None)
        for n in range(clean):
            before, ours = tree_cpu(setup.pids()), rusta_cpu()
            at = setup.save(original + f"\n// rusta bench save {n}\n")
            setup.quiet(at, timeout, need_rusta_check=rusta is not None)
            result["clean"].append(tree_cpu(setup.pids()) - before)
            result["clean_rusta"].append(rusta_cpu() - ours)
            result["flycheck"] += [end - begin for begin, end in setup.ra.progress(at, "cargo check") if end]
        for n in range(broken):
            before, ours = tree_cpu(setup.pids()), rusta_cpu()
            # Each broken text its own: the same one again is answered from the last report.
            at = setup.save(original.replace(IMPORT, "", 1) + f"\n// rusta bench broken save {n}\n")
            setup.quiet(at, timeout, need_rusta_check=rusta is not None)
            result["broken"].append(tree_cpu(setup.pids()) - before)
            result["broken_rusta"].append(rusta_cpu() - ours)
            result["hint"].append(setup.hint_at(at))
            flychecks = [end - begin for begin, end in setup.ra.progress(at, "cargo check") if end]
            result["broken_flycheck"] = result.get("broken_flycheck", []) + flychecks[:1]
            at = setup.save(original)
            setup.quiet(at, timeout, need_rusta_check=rusta is not None)
    finally:
        setup.save(original)
        setup.stop()
    return result


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workspace", choices=["regex", "corpus"])
    parser.add_argument("--before", help="the rusta executable to compare with")
    parser.add_argument("--uncoordinated-before", action="store_true",
                        help="forward nothing of rust-analyzer to the `before` Rusta (one from before issue 15)")
    parser.add_argument("--after", default=str(Path(sys.executable).parent / "rusta"), help="this rusta")
    parser.add_argument("--clean", type=int, default=3, help="clean saves per set-up")
    parser.add_argument("--broken", type=int, default=2, help="broken saves per set-up")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one save may take")
    parser.add_argument("--only", nargs="*", default=["ra", "before", "after"])
    parser.add_argument("--without-vectors", action="store_true",
                        help="Rusta without its embedding model (the memory's vector backlog of a large "
                             "workspace takes longer on a CPU than the whole benchmark; it is paid once)")
    args = parser.parse_args()
    for var in ("RUST_ANALYZER", "RUST_SRC_PATH"):
        if not os.environ.get(var):
            sys.exit(f"{var} is not set: editors/scripts/install-tools.sh installs rust-analyzer and rust-src")
    root, rel = regex_workspace() if args.workspace == "regex" else corpus_workspace()
    memory = OUT / f"coexist-{args.workspace}-memory"
    print(f"workspace {root} ({rust_lines(root):,} lines of Rust), saving {rel}; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    executables = {"ra": None, "before": args.before, "after": args.after}
    results = {}
    for kind in args.only:
        if kind == "before" and not args.before:
            print("  [before] skipped: no --before executable")
            continue
        results[kind] = run_setup(kind, root, rel, executables[kind], memory, args.clean, args.broken, args.timeout,
                                  vectors=not args.without_vectors,
                                  forward=not (kind == "before" and args.uncoordinated_before))
        print(f"  [{kind}] {json.dumps(results[kind])}", flush=True)
    print(f"\n{args.workspace}: CPU seconds per save (mean), load at the end {os.getloadavg()[0]:.1f}")
    floor = mean(results.get("ra", {}).get("clean", []))
    check = mean(results.get("ra", {}).get("broken_flycheck", [])) or mean(results.get("ra", {}).get("flycheck", []))
    for kind, r in results.items():
        clean, broken = mean(r["clean"]), mean(r["broken"])
        line = f"  {kind:7} clean {clean:6.2f}" if clean is not None else f"  {kind:7} clean    -  "
        if r["clean"]:
            line += f" (median {statistics.median(r['clean']):5.2f})"
        if floor and clean is not None:
            line += f" ({clean / floor:4.2f}x rust-analyzer alone)"
        if kind != "ra" and r["clean_rusta"]:
            line += f" [Rusta's own: mean {mean(r['clean_rusta']):4.2f}, median {statistics.median(r['clean_rusta']):4.2f}]"
        if broken is not None:
            line += f" | broken {broken:6.2f}"
            if kind != "ra" and r["broken_rusta"]:
                line += f" [Rusta's own {mean(r['broken_rusta']):5.2f}]"
        hints = [h for h in r.get("hint", []) if h is not None]
        if kind != "ra" and r.get("hint"):
            line += f" | verified fix after {mean(hints) or float('nan'):5.1f} s in {len(hints)}/{len(r['hint'])} saves"
            if check and hints:
                line += f" ({mean(hints) / check:4.1f}x one incremental check of {check:.1f} s)"
        print(line)


if __name__ == "__main__":
    main()
