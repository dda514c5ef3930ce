"""Where the code comes from: owner/name, URLs, local paths and the demo."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import manifest
from taskorch import repo


@pytest.mark.parametrize("spec,url", [
    ("acme/service", "https://github.com/acme/service.git"),
    ("https://git.example.com/a/b.git", "https://git.example.com/a/b.git"),
    ("git@github.com:acme/service.git", "git@github.com:acme/service.git"),
    ("ssh://git@host/x.git", "ssh://git@host/x.git"),
])
def test_remote_specs(tmp_path, spec, url):
    assert repo.remote_url(spec, tmp_path, tmp_path / "work") == url


def test_a_local_path_is_resolved_against_the_control_directory(tmp_path):
    (tmp_path / "code").mkdir()
    assert repo.remote_url("./code", tmp_path, tmp_path / "w") == str((tmp_path / "code").resolve())


def test_a_missing_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(repo.RepoError, match="local path ./nope does not exist"):
        repo.remote_url("./nope", tmp_path, tmp_path / "w")


def test_demo_makes_a_bare_remote_with_a_seed_commit_once(tmp_path):
    first = repo.remote_url("demo", tmp_path, tmp_path / "w")
    again = repo.remote_url("demo", tmp_path, tmp_path / "w")
    assert first == again and first.endswith("remote.git")
    log = subprocess.run(["git", "log", "--oneline", "main"], cwd=first, capture_output=True,
                         text=True, check=True).stdout
    assert log.count("\n") == 1 and "seed the demo repository" in log


def test_missing_tmux_is_a_clear_error_not_a_traceback(control, tmp_path):
    control.write(manifest([[{"id": "a", "title": "x", "files": ["f"]}]]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(subprocess.run(["which", "git"], capture_output=True,
                                                text=True).stdout.strip())
    env = {**os.environ, "PATH": str(bin_dir)}
    result = subprocess.run([sys.executable, "-m", "doit", "launch"], cwd=control.path,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert "tmux is not installed; install it" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_missing_working_directory_is_not_called_a_missing_git(tmp_path):
    """subprocess raises the same FileNotFoundError for a missing cwd as for a missing program:
    a clone that was never made read as "git is not installed" (found by bench/github_tick.py)."""
    from taskorch import git
    with pytest.raises(git.GitError) as caught:
        git.run("fetch", "origin", cwd=tmp_path / "never-cloned")
    assert "never-cloned does not exist" in str(caught.value)
    assert "not installed" not in str(caught.value)
