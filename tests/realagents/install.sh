#!/usr/bin/env bash
# Install the real agent CLIs at the versions taskorch is verified against (issue 9).
# Idempotent: a CLI already installed at the pinned version is skipped. Prints where each binary is.
#
#   tests/realagents/install.sh            # into /opt/taskorch-agents (or $TASKORCH_AGENTS_PREFIX)
#   . <(tests/realagents/install.sh --env) # only print the PATH line for an existing install
#
# Every step has a timeout; nothing here reaches more than the npm registry and PyPI.
set -euo pipefail

CODEX_VERSION=0.171.0
CLAUDE_VERSION=2.1.332
AIDER_VERSION=0.86.2
if [[ -z ${TASKORCH_AGENTS_PREFIX:-} ]]; then  # /opt for root and CI; a user's cache otherwise
  if [[ -w /opt ]]; then TASKORCH_AGENTS_PREFIX=/opt/taskorch-agents
  else TASKORCH_AGENTS_PREFIX=${XDG_CACHE_HOME:-$HOME/.cache}/taskorch-agents; fi
fi
PREFIX=$TASKORCH_AGENTS_PREFIX
NPM_PREFIX=$PREFIX/npm
AIDER_VENV=$PREFIX/aider-venv
STEP_TIMEOUT=${TASKORCH_AGENTS_TIMEOUT:-900}
PYTHON=${TASKORCH_AGENTS_PYTHON:-python3}

if [[ ${1:-} == --env ]]; then
  echo "export PATH=\"$NPM_PREFIX/bin:$AIDER_VENV/bin:\$PATH\""
  exit 0
fi

# shellcheck source=../install_steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/../install_steps.sh"  # log, step

npm_version() { # npm_version PACKAGE -> the installed version under NPM_PREFIX, or nothing
  local pj=$NPM_PREFIX/lib/node_modules/$1/package.json
  [[ -f $pj ]] && sed -n 's/^  "version": "\(.*\)",*$/\1/p' "$pj" | head -1
  return 0
}

command -v npm >/dev/null || { log "npm is missing (apt-get install -y nodejs npm)"; exit 1; }
mkdir -p "$NPM_PREFIX"

install_npm() { # install_npm PACKAGE VERSION BIN
  local pkg=$1 want=$2 bin=$3
  if [[ $(npm_version "$pkg") == "$want" && -x $NPM_PREFIX/bin/$bin ]] \
     && timeout 60 "$NPM_PREFIX/bin/$bin" --version >/dev/null 2>&1; then
    log "$pkg@$want already installed"
    return
  fi
  # The package's postinstall (if any) only picks the platform binary that ships inside an npm
  # optional dependency; nothing is downloaded from elsewhere.
  step "npm install $pkg@$want" npm install --global --prefix "$NPM_PREFIX" --no-audit --no-fund \
    --loglevel=error "$pkg@$want"
}

install_npm @openai/codex "$CODEX_VERSION" codex
install_npm @anthropic-ai/claude-code "$CLAUDE_VERSION" claude

aider_ok() {
  [[ -x $AIDER_VENV/bin/python ]] &&
    [[ $("$AIDER_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("aider-chat"))' \
         2>/dev/null) == "$AIDER_VERSION" ]]
}
if aider_ok; then
  log "aider-chat==$AIDER_VERSION already installed"
else
  [[ -d $AIDER_VENV ]] || step "venv $AIDER_VENV" "$PYTHON" -m venv "$AIDER_VENV"
  step "pip install aider-chat==$AIDER_VERSION" "$AIDER_VENV/bin/python" -m pip install -q \
    --disable-pip-version-check "aider-chat==$AIDER_VERSION"
fi

for bin in "$NPM_PREFIX/bin/codex" "$NPM_PREFIX/bin/claude" "$AIDER_VENV/bin/aider"; do
  # aider --version is slow (imports litellm); the others answer at once.
  printf '%s\t%s\n' "$bin" "$(timeout 120 "$bin" --version 2>/dev/null | tail -1)"
done
echo "export PATH=\"$NPM_PREFIX/bin:$AIDER_VENV/bin:\$PATH\""
