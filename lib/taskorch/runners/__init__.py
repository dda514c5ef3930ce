"""Places agents run. Each backend implements `runners.base.Runner`; `runner_for` picks one.

A registry in the manner of pre-commit's all_languages: a name, and a factory that builds the
backend from the manifest and the work directory: tmux here, Slurm batch jobs elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from taskorch.runners.base import Runner, project_key, session_prefix

if TYPE_CHECKING:
    from taskorch.layout import Layout
    from taskorch.manifest import Manifest


def _tmux(manifest: "Manifest", layout: "Layout", on_exit: Path | None) -> Runner:
    from taskorch.git import slug
    from taskorch.runners.tmux import TmuxRunner  # sh is imported only by those who run agents
    key = project_key(layout.root)
    return TmuxRunner(f"taskorch-{slug(manifest.project, 20)}-{key}", layout.tmux_conf,
                      manifest.socket, on_exit=on_exit, key=key, runs=layout.run_dir)


def _slurm(manifest: "Manifest", layout: "Layout", on_exit: Path | None) -> Runner:
    from taskorch.runners.slurm import SlurmRunner
    key, options = project_key(layout.root), manifest.runner_options()
    prefix = session_prefix(key)
    return SlurmRunner(key, lambda session: layout.log(session[len(prefix):]),
                       options.get("partition"), tuple(options.get("sbatch", ())))


def _ray(manifest: "Manifest", layout: "Layout", on_exit: Path | None) -> Runner:
    from taskorch.runners.ray import RayRunner
    key = project_key(layout.root)
    prefix = session_prefix(key)
    return RayRunner(key, lambda session: layout.log(session[len(prefix):]),
                     manifest.runner_options())


def _batch(manifest: "Manifest", layout: "Layout", on_exit: Path | None) -> Runner:
    from taskorch.runners.batch import BatchRunner
    key = project_key(layout.root)
    prefix = session_prefix(key)
    return BatchRunner(key, lambda session: layout.log(session[len(prefix):]),
                       manifest.runner_options())


RUNNERS: dict[str, Callable[["Manifest", "Layout", Path | None], Runner]] = {
    "tmux": _tmux, "slurm": _slurm, "ray": _ray, "batch": _batch}


def runner_for(manifest: "Manifest", layout: "Layout", on_exit: Path | None = None) -> Runner:
    """The runner the manifest names; `on_exit` is a script to run whenever an agent exits."""
    return RUNNERS[manifest.runner_options()["kind"]](manifest, layout, on_exit)


def is_remote(runner: Runner) -> bool:
    """Agents run elsewhere, and their work comes back through each attempt's ref (ship.py)."""
    return bool(getattr(runner, "remote", False))


def sees_output(runner: Runner) -> bool:
    """A running agent's output reaches this machine as it comes (tmux's screen, a `live`
    engine's log), so output that stops is a stall. Otherwise nothing can be judged stalled."""
    return not is_remote(runner) or bool(getattr(runner, "live", False))
