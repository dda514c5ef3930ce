"""The clone's shared git config, kept as taskorch made it.

Every worktree shares the clone's `.git/config`, so an agent's `git config` there changes what
taskorch's own git calls do: `remote.origin.url` redirects the push that carries the user's
credentials, `uploadpack`, `credential.helper` or `core.sshCommand` run programs. taskorch keeps
a copy of the config as it was after cloning (`clone.config` in the work directory) and puts it
back before each heartbeat and launch acts, saying what had changed. To change the clone's
config on purpose, change that copy too.
"""

from __future__ import annotations

from pathlib import Path

from taskorch.layout import Layout, write_atomic


def _config(layout: Layout) -> Path:
    return layout.clone / ".git" / "config"


def remember(layout: Layout) -> None:
    """Keep the config as it is now, unless a copy is kept already (call right after cloning)."""
    if not layout.clone_config.exists() and _config(layout).exists():
        write_atomic(layout.clone_config, _config(layout).read_bytes())


def restore(layout: Layout) -> str | None:
    """Put the kept config back if it was changed; a line saying what changed, or None."""
    try:
        kept, now = layout.clone_config.read_bytes(), _config(layout).read_bytes()
    except FileNotFoundError:
        return None
    if kept == now:
        return None
    write_atomic(_config(layout), kept)
    before = set(kept.decode(errors="replace").splitlines())
    added = [line.strip() for line in now.decode(errors="replace").splitlines()
             if line not in before and line.strip() and not line.strip().startswith("[")]
    shown = "; ".join(added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
    return (f"the clone's .git/config was changed since taskorch made it ({shown or 'lines removed'}); "
            f"restored it (to change it on purpose, change {layout.clone_config} too)")
