#!/usr/bin/env bash
# The task-orchestrator skill's monitoring, as published ("Progress Check Script" of SKILL.md),
# re-implemented for bench/heartbeat_vs_skill.py: per tmux session one capture-pane of the last
# 50 lines, the skill's DONE / ERROR / STUCK patterns in its order, then one jq update of the
# manifest per task (status and lastProgress), written back through a temp file and mv.
#
#   check_progress.sh SOCKET_PATH MANIFEST      (tmux -S, as the skill runs it)
#   check_progress.sh -L NAME MANIFEST          (tmux -L, as taskorch runs its private server)
#
# Prints one line per session, as the skill does: DONE:<id>, ERROR:<id>, STUCK:<id>:waiting_for_input
# or RUNNING:<id>. A session named task-<id> is task <id> of the manifest.
set -u

DONE_RE='(All tests passed|Successfully pushed|❯ $)'
ERROR_RE='(error:|failed:|FATAL|panic)'       # matched case-insensitively, as in the skill
STUCK_RE='(\? |Continue\?|y/n|Press any key)'

usage() {
    echo "usage: $0 SOCKET_PATH MANIFEST | $0 -L NAME MANIFEST" >&2
    exit 2
}

if [[ $# -eq 3 && $1 == -L ]]; then
    where=(-L "$2"); manifest=$3
elif [[ $# -eq 2 && $1 != -* ]]; then
    where=(-S "$1"); manifest=$2
else
    usage
fi
[[ -f $manifest ]] || { echo "$0: no manifest at $manifest" >&2; exit 2; }

# classify TEXT: sets `status` to the skill's verdict for one screen, checked in the skill's
# order (a variable, not $(...), so that no extra subshell is forked: generous to the skill).
classify() {
    if grep -qE "$DONE_RE" <<<"$1"; then
        status=complete
    elif grep -qiE "$ERROR_RE" <<<"$1"; then
        status=error
    elif grep -qE "$STUCK_RE" <<<"$1"; then
        status=stuck
    else
        status=running
    fi
}

# record TASK_ID STATUS: one jq pass over the whole manifest, written back as a script would.
record() {
    local tmp="$manifest.tmp.$$"
    if jq --arg id "$1" --arg status "$2" \
        '(.phases[]?.tasks[]? | select(.id == $id)) |= (.status = $status | .lastProgress = (now | todate))' \
        "$manifest" >"$tmp"; then
        mv -f "$tmp" "$manifest"
    else
        rm -f "$tmp"
        return 1
    fi
}

check_session() {
    local session=$1 id=${1#task-} output status
    output=$(tmux "${where[@]}" capture-pane -p -t "$session" -S -50 2>/dev/null) || return 0
    classify "$output"
    case $status in
        complete) echo "DONE:$id" ;;
        error) echo "ERROR:$id" ;;
        stuck) echo "STUCK:$id:waiting_for_input" ;;
        *) echo "RUNNING:$id" ;;
    esac
    record "$id" "$status"
}

sessions=$(tmux "${where[@]}" list-sessions -F '#{session_name}' 2>/dev/null) || exit 0
for session in $sessions; do
    check_session "$session"
done
