"""Where finished work is delivered. Each backend implements `forges.base.Forge`."""

from __future__ import annotations

from pathlib import Path

from taskorch.forges.base import Forge
from taskorch.forges.git import GitForge
from taskorch.forges.github import GitHubForge

FORGES: dict[str, type] = {"git": GitForge, "github": GitHubForge}


def forge_for(kind: str, clone: Path, base: str) -> Forge:
    return FORGES[kind](clone, base)
