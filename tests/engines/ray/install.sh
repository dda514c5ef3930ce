#!/usr/bin/env bash
# Install Ray (pinned, `ray[default]`: the dashboard and its Jobs HTTP API) into a venv of its own
# for the Ray engine tests (issue 11). taskorch itself never imports ray: the control side speaks
# HTTP to the head. Idempotent: an install already at the pinned version returns at once.
#
#   bash tests/engines/ray/install.sh          # into /opt/taskorch-engines/ray-venv (or ~/.cache)
#   tests/engines/ray/install.sh --venv        # only print the venv's path
#
# Every step has a timeout; nothing here reaches more than PyPI.
set -euo pipefail

RAY_VERSION=2.60.0
if [[ -z ${TASKORCH_ENGINES_PREFIX:-} ]]; then  # /opt for root and CI; a user's cache otherwise
  if [[ -w /opt ]]; then TASKORCH_ENGINES_PREFIX=/opt/taskorch-engines
  else TASKORCH_ENGINES_PREFIX=${XDG_CACHE_HOME:-$HOME/.cache}/taskorch-engines; fi
fi
VENV=$TASKORCH_ENGINES_PREFIX/ray-venv
STEP_TIMEOUT=${TASKORCH_ENGINES_TIMEOUT:-900}
PYTHON=${TASKORCH_ENGINES_PYTHON:-python3}

if [[ ${1:-} == --venv ]]; then echo "$VENV"; exit 0; fi

# shellcheck source=../../install_steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../install_steps.sh"  # log, step

installed() { # the venv's ray version, or nothing; a broken venv counts as not installed
  [[ -x $VENV/bin/python && -x $VENV/bin/ray ]] || return 0
  timeout 60 "$VENV/bin/python" -c \
    'import importlib.metadata as m; import ray.dashboard; print(m.version("ray"))' 2>/dev/null \
    || true
}

if [[ $(installed) == "$RAY_VERSION" ]]; then
  log "ray $RAY_VERSION already installed in $VENV"
  exit 0
fi
mkdir -p "$TASKORCH_ENGINES_PREFIX"
[[ -x $VENV/bin/python ]] || step "venv $VENV" "$PYTHON" -m venv "$VENV"
step "ray[default]==$RAY_VERSION" "$VENV/bin/python" -m pip install --quiet \
  --disable-pip-version-check "ray[default]==$RAY_VERSION"
[[ $(installed) == "$RAY_VERSION" ]] || { log "ray $RAY_VERSION does not import from $VENV"; exit 1; }
log "ray $RAY_VERSION in $VENV ($(du -sm "$VENV" | cut -f1) MB)"
