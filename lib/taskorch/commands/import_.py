"""`doit import`: add open issues to the manifest as tasks (a diff first; --write applies it)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch import git, importer, lock, repo
from taskorch.layout import write_atomic
from taskorch.manifest import ManifestError
from taskorch.terminal import echo
from taskorch.project import Project


def tracked_files(project: Project) -> set[str]:
    """The repository's files on the base branch, from the clone (made if needed)."""
    layout, manifest = project.layout, project.manifest
    git.ensure_clone(repo.remote_url(manifest.repo, manifest.root, layout.root), layout.clone)
    git.run("fetch", "--quiet", "origin", cwd=layout.clone)
    listing = git.run("ls-tree", "-r", "--name-only", f"origin/{manifest.base}", cwd=layout.clone)
    return set(listing.splitlines())


VERB = Verb(
    "import", "Add open GitHub issues as tasks: shows a diff; --write applies it.",
    params=({"name": "source", "long": "from", "default": "", "metavar": "FILE",
             "help": "read issues from this JSON file instead of `gh issue list`"},
            {"name": "write", "long": "write", "type": bool, "default": False,
             "help": "apply the diff to the manifest"}),
    details="Issues already in the manifest are skipped; comments and layout are kept.",
    examples=("doit import", "doit import --from issues.json --write"))


def again(source: str) -> str:
    """The command that applies this diff: the same issues, so the same `--from`."""
    return "doit import " + (f"--from {shlex.quote(source)} " if source else "") + "--write"


def creator(project: Project) -> Callable[[], dict]:
    def run(source: str, write: bool) -> TaskFailed | None:
        path = project.manifest.path
        try:
            issues = importer.read_issues(Path(source) if source else None, project.manifest.root)
            with lock.hold(project.layout.lock):
                result = importer.plan_import(path, issues, tracked_files(project),
                                              project.manifest.labels)
                importer.check(result, path)
                if write and result.added:
                    write_atomic(path, result.text)
        except importer.IssuesError as exc:
            return TaskFailed(str(exc))
        except (git.GitError, repo.RepoError) as exc:
            return TaskFailed(f"import: cannot list the repository's files: {exc}")
        except ManifestError as exc:
            return TaskFailed(f"import: the result would not be a valid manifest:\n{exc}")
        echo(result.diff or "import: no new issues")
        echo(f"import: {len(result.added)} new task(s): {', '.join(result.added) or '-'}; "
              f"{len(result.skipped)} already in the manifest")
        for note in result.notes:
            echo(f"import: {note}")
        if result.without_files:
            echo("import: no files found for " + ", ".join(result.without_files) + "; they "
                  "run serialized against every task of their phase until you add files:")
        if result.added:
            echo(f"import: wrote {path.name}" if write else
                 f"import: nothing written; run `{again(source)}` to apply this diff")
        return None

    def task_import() -> dict:
        return VERB.task(actions=[run])

    task_import.__doc__ = VERB.summary
    return task_import
