# Sourced by the test installers (tests/realagents/install.sh, tests/engines/ray/install.sh):
# log to stderr, and run each install step with a timeout ($STEP_TIMEOUT seconds), timed.
log() { printf 'install: %s\n' "$*" >&2; }
step() { # step NAME CMD... : run CMD with a timeout, timing it
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  log "$name ..."
  timeout --kill-after=30 "$STEP_TIMEOUT" "$@" || rc=$?
  if ((rc)); then
    log "$name FAILED (exit $rc after $(($(date +%s) - start))s)"
    exit "$rc"
  fi
  log "$name done in $(($(date +%s) - start))s"
}
