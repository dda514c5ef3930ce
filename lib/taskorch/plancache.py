"""The compiled manifest and plan, kept in the work directory so a verb does not re-plan (issue 10).

Parsing, validating and planning a 20,000-task manifest takes seconds; reading it back from a
pickle takes a small part of that. The cache is keyed by content, never by time: the manifest's
bytes, its resolved path, and the taskorch code that compiled it (each module's size and mtime,
the Python version). Any change to one of them is a miss, and a miss is a full load, so a bad
manifest is reported exactly as before: only manifests that loaded cleanly are ever stored.
Prompt templates the tasks name are checked again on every hit (whether each is still a file
inside prompts/), since validation looks at them and they are not part of the key.

A cache that cannot be read, is torn, or was written by other code is ignored and rebuilt.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import re
import sys
from pathlib import Path

import taskorch
from taskorch import plan as plans
from taskorch.layout import Layout
from taskorch.manifest import DEFAULT_WORKDIR, Manifest, load_text
from taskorch.manifest import load as load_manifest
from taskorch.plan import Plan

MAGIC = b"taskorch-plan-cache 1\n"
PACKAGE = Path(taskorch.__file__).resolve().parent
_WORKDIR_YAML = re.compile(r"^workdir:[ \t]*(['\"]?)([^'\"#\r\n]*?)\1[ \t]*(?:#.*)?$", re.MULTILINE)
_WORKDIR_JSON = re.compile(r'"workdir"\s*:\s*"([^"\\]*)"')


def code_stamp() -> bytes:
    """What compiled the cache: the Python version, taskorch's version and every module's size
    and mtime (an edited or reinstalled taskorch is a miss: about 0.3 ms of stat calls)."""
    parts = [sys.version, taskorch.__version__, str(pickle.HIGHEST_PROTOCOL)]
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                parts.append(f"{os.path.relpath(os.path.join(folder, name), PACKAGE)}:"
                             f"{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts).encode()


def key(path: Path, data: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=32)
    for part in (code_stamp(), str(path.resolve()).encode(), data):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def location(path: Path, text: str) -> Path:
    """Where the cache of this manifest would be: its work directory, read from a top-level
    `workdir:` without a full parse. A wrong guess costs only a miss (the key is checked)."""
    found = _WORKDIR_YAML.search(text) or _WORKDIR_JSON.search(text)
    workdir = (found.group(found.lastindex or 1).strip() if found else "") or DEFAULT_WORKDIR
    return Layout((path.parent / workdir).resolve()).plan_cache


def prompts_hold(manifest: Manifest) -> bool:
    """Whether every template the tasks name is still a file inside prompts/."""
    prompts = (manifest.root / "prompts").resolve()
    for name in {t.prompt for t in manifest.tasks if t.prompt}:
        try:
            target = (prompts / name).resolve()
            if not target.is_relative_to(prompts) or not target.is_file():
                return False
        except (OSError, ValueError):
            return False
    return True


def read(cache: Path, wanted: bytes) -> tuple[Manifest, Plan] | None:
    try:
        with open(cache, "rb") as f:
            blob = f.read()
    except OSError:
        return None
    head = len(MAGIC) + len(wanted)
    if blob[:len(MAGIC)] != MAGIC or blob[len(MAGIC):head] != wanted:
        return None
    enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of new objects: no collection can free any of them
    try:
        manifest, plan = pickle.loads(blob[head:])
    except Exception:  # torn, or from code pickle cannot match: rebuild
        return None
    finally:
        if enabled:
            gc.enable()
    if not isinstance(manifest, Manifest) or not isinstance(plan, Plan):
        return None
    gc.freeze()  # they live as long as the run: later collections need not walk them
    return manifest, plan


def write(cache: Path, stamp: bytes, manifest: Manifest, plan: Plan) -> None:
    """Written under a name of its own, then renamed: readers see a whole file or none, and
    two runs storing at once cannot mix their bytes. Failing to store is not an error."""
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")  # cleanup counts .*.tmp as ours
    try:
        blob = pickle.dumps((manifest, plan), protocol=pickle.HIGHEST_PROTOCOL)
        with open(tmp, "wb") as f:
            f.write(MAGIC + stamp + blob)
        os.replace(tmp, cache)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def load(path: str | Path, store: bool = False) -> tuple[Manifest, Plan]:
    """The manifest at `path` and its plan: from the cache when it holds this very content,
    else loaded, validated and planned (ManifestError as ever), then stored when the work
    directory exists (or `store`: create it)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        manifest = load_manifest(path)  # raises ManifestError saying why, as it always has
        return manifest, plans.build(manifest)
    stamp = key(path, data)
    cache = location(path, text)
    hit = read(cache, stamp)
    if hit is not None and hit[0].path == path.resolve() and prompts_hold(hit[0]):
        return hit
    manifest = load_text(text, path)
    plan = plans.build(manifest)
    plan.launch_order()  # worth keeping: sorting 20,000 tasks by chain takes 0.1 s
    cache = Layout(manifest.workdir).plan_cache
    if store:
        try:
            manifest.workdir.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
    if manifest.workdir.is_dir():
        write(cache, stamp, manifest, plan)
    return manifest, plan
