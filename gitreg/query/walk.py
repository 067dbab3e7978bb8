"""The registry's files in the work tree, as the query index sees them: each path's stat
signature (what the stat cache compares), found by listing folders, never following a
symbolic link and refusing any file that is not a regular one (a FIFO, a device),
with its path."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path

from gitreg.errors import ManifestError
from gitreg.files.tree import refuse_kind
from gitreg.layout import PATH, VERSION_FILE

# a file changed this close to now may change again within its timestamp's resolution:
# its stat signature proves nothing (git's racy-git rule)
RACY_NS = 2_000_000_000

Sigs = dict[str, tuple[str, int]]  # path -> (stat signature, change time in ns)


def walk(
    root: Path, names: Collection[str] | None, versions: bool, dirs: Sigs | None = None
) -> Sigs:
    """path -> (stat signature, change time in ns) of every model.yaml (and version file,
    if ``versions``) of the model folders ``names`` (all if None). A symbolic link is
    refused, as ``WorkTree.read`` refuses it. ``dirs``, if given, gets the same of each
    folder listed (each taken before the folder is listed)."""
    base = f"{root}/models"
    if names is None:
        try:
            if dirs is not None:
                dirs["models"] = sig(os.lstat(base))
            folders = sorted(e.name for e in os.scandir(base) if e.is_dir() or e.is_symlink())
        except (FileNotFoundError, NotADirectoryError):
            return {}
    else:
        folders = sorted(names)
    found: Sigs = {}
    for name in folders:
        rel = f"models/{name}"
        model = lstat(f"{base}/{name}", rel, folder=True)
        if model is None:
            continue
        if dirs is not None:
            dirs[rel] = sig(model)
        model = lstat(f"{base}/{name}/model.yaml", f"{rel}/model.yaml")
        if model is None:
            continue
        found[f"{rel}/model.yaml"] = sig(model)
        folder = f"{base}/{name}/versions"
        if not versions:
            continue
        listed = lstat(folder, f"{rel}/versions", folder=True)
        if listed is None:
            continue
        if dirs is not None:
            dirs[f"{rel}/versions"] = sig(listed)
        for entry in os.scandir(folder):
            if not VERSION_FILE.fullmatch(entry.name):
                continue
            path = f"{rel}/versions/{entry.name}"
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise ManifestError(path, None, "is a symbolic link; gitreg refuses them")
            if not stat.S_ISREG(st.st_mode):
                raise refuse_kind(path, st.st_mode)
            found[path] = sig(st)
    return found


def folders_unchanged(root: Path | str, folders: list[tuple[str, str]]) -> bool:
    """Whether each of ``folders`` (path, stat signature) is a folder with that signature
    now: the one check a trusted query makes (query.fresh), so it is kept tight, each path
    looked up from the registry's own folder."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    lstat, is_dir = os.lstat, stat.S_ISDIR
    try:
        for rel, want in folders:
            st = lstat(rel, dir_fd=fd)
            if _signature(st) != want:
                return False
            if not is_dir(st.st_mode):
                return False
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def lstat(full: str, rel: str, folder: bool = False) -> os.stat_result | None:
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(st.st_mode):
        raise ManifestError(rel, None, "is a symbolic link; gitreg refuses them")
    if stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode):
        return st
    if folder and stat.S_ISREG(st.st_mode):
        return None  # a plain file where a model folder would be: no such model
    raise refuse_kind(rel, st.st_mode)  # a FIFO, a device ...: refused, never dropped


def sig(st: os.stat_result) -> tuple[str, int]:
    return _signature(st), max(st.st_mtime_ns, st.st_ctime_ns)


def _signature(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}"


def in_layout(path: str) -> bool:
    """Whether ``path`` is a model.yaml or a version manifest where the layout puts them."""
    return PATH.fullmatch(path) is not None
