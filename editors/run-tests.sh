#!/usr/bin/env bash
# The editor clients' tests: the one entry point for `make test-editors` (and so CI).
#   editors/run-tests.sh unit   VS Code extension (npm ci, compile, node unit tests, vsce package)
#                               and Neovim plugin unit tests in a headless nvim
#   editors/run-tests.sh e2e    the real editors against the real server: code-server + chromium,
#                               headless nvim (installs the toolchains first)
#   editors/run-tests.sh        both
# Every step runs; the script exits 1 when any failed. Missing tools fail, they never skip.
# RUSTA_SERVER overrides the server (default: .venv/bin/rusta, else rusta on PATH);
# RUSTA_E2E_STRICT=0 lets features the server does not advertise skip (default 1: they fail);
# RUSTA_E2E_OUT is where screenshots and logs go (default target/editors-e2e).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-all}
TOOLS=${RUSTA_EDITOR_TOOLS:-$HOME/.cache/rusta-editor-tools}
export RUSTA_E2E_STRICT=${RUSTA_E2E_STRICT:-1}
export RUSTA_E2E_OUT=${RUSTA_E2E_OUT:-$REPO/target/editors-e2e}
mkdir -p "$RUSTA_E2E_OUT"
failed=()

step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== $name"
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

npm_ci() {
  local attempt
  for attempt in 1 2 3; do
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error && return 0
    echo "npm ci failed (attempt $attempt); retrying"
    sleep $((attempt * 5))
  done
  return 1
}

vscode_unit() {
  cd "$REPO/editors/vscode" && npm_ci && npm run --silent compile && npm test && npm run --silent package >/dev/null
}

# A hung editor must not hold CI until its own limit: every run has a ceiling.
nvim_spec() {
  local spec=$1
  (cd "$REPO" && timeout 900 "$NVIM" --headless -u NONE -i NONE --cmd "set rtp^=$REPO/editors/neovim" \
    -l "$REPO/editors/neovim/tests/$spec")
}

find_server() {
  if [[ -z ${RUSTA_SERVER:-} ]]; then
    if [[ -x $REPO/.venv/bin/rusta ]]; then
      RUSTA_SERVER=$REPO/.venv/bin/rusta
    else
      RUSTA_SERVER=$(command -v rusta) || { echo "rusta not found: pip install -e . first (or set RUSTA_SERVER)"; return 1; }
    fi
  fi
  export RUSTA_SERVER
  "$RUSTA_SERVER" --version
}

vscode_e2e() {
  export RUSTA_VSIX=$REPO/editors/vscode/rusta.vsix
  [[ -f $RUSTA_VSIX ]] || { echo "$RUSTA_VSIX missing: the unit step packages it"; return 1; }
  cd "$REPO/editors/vscode" || return 1
  # No rerun: a flaky step is a bug to find, and a rerun would hide it.
  timeout 900 npm run --silent e2e
}

tools_args=()
[[ $MODE == unit ]] && tools_args=(--nvim-only)
step "install editor toolchains" "$REPO/editors/scripts/install-tools.sh" "${tools_args[@]}"
# shellcheck source=/dev/null
[[ -f $TOOLS/env.sh ]] && source "$TOOLS/env.sh"

if [[ $MODE == unit || $MODE == all ]]; then
  step "vscode: npm ci, compile, unit tests, package" vscode_unit
  step "neovim: unit tests" nvim_spec unit_spec.lua
fi
if [[ $MODE == e2e || $MODE == all ]]; then
  step "server" find_server
  [[ $MODE == e2e ]] && { [[ -f $REPO/editors/vscode/rusta.vsix ]] || step "vscode: package" vscode_unit; }
  step "vscode: end to end in code-server" vscode_e2e
  step "neovim: end to end in nvim" nvim_spec e2e_spec.lua
fi

if ((${#failed[@]})); then
  echo "editor tests FAILED: ${failed[*]}"
  exit 1
fi
echo "editor tests passed ($MODE)"
