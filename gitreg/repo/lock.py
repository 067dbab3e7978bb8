"""Crash safety for writes in one clone: the per-repository lock, the write journal, the
test-only crash points, and the recovery every locked write runs first.

Two gitreg processes in one clone queue on ``.git/gitreg.repo.lock`` (``flock``, released by
the kernel when a process dies, so a crash never leaves a lock behind). A write records
the paths it is about to touch in ``.git/gitreg-journal`` before it writes them and drops
the record once its commit has landed; the next locked write that finds a record put
those paths back as HEAD has them, unless that commit did land. Stray
``.gitreg-tmp-*`` files (a write killed between its temporary file and the rename) are
removed at the same time, from the folders the record names.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gitreg.errors import GitError
from gitreg.repo.git import Git

TMP_PREFIX = ".gitreg-tmp-"
CRASH_POINTS = (
    "before_replace", "before_commit", "after_commit_before_push", "after_push",
)  # fmt: skip
_reached: dict[str, int] = {}
_held: dict[Path, tuple[int, int]] = {}  # git dir -> (fd, depth): the lock is re-entrant
F = TypeVar("F", bound=Callable[..., Any])


class HasGit(Protocol):
    root: Path

    @property
    def git(self) -> Git: ...


def crash_point(name: str) -> None:
    """Kill this process on the spot if ``GITREG_CRASH_AT`` names this point (tests only);
    ``name:N`` kills on the N-th time the point is reached."""
    want, _, nth = os.environ.get("GITREG_CRASH_AT", "").partition(":")
    if want == name:
        _reached[name] = _reached.get(name, 0) + 1
        if _reached[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


@lru_cache(maxsize=64)
def git_dir(root: Path) -> Path:
    out = Git(root).run("rev-parse", "--absolute-git-dir", check=False).strip()
    if not out:
        raise GitError(f"{root} is not a git work tree")
    return Path(out)


def lock_timeout() -> float:
    try:
        return float(os.environ.get("GITREG_LOCK_TIMEOUT", "120"))
    except ValueError:
        return 120.0


@contextmanager
def hold(repo: HasGit, timeout: float | None = None) -> Iterator[None]:
    """Hold the repository's lock (waiting up to ``timeout`` seconds); the outermost holder
    first recovers from a write that an earlier process did not finish."""
    import fcntl  # noqa: PLC0415 (POSIX only; imported where the lock is taken)

    gdir = git_dir(repo.root)
    if gdir in _held:
        fd, depth = _held[gdir]
        _held[gdir] = (fd, depth + 1)
        try:
            yield
        finally:
            _held[gdir] = (fd, depth)
        return
    wait = lock_timeout() if timeout is None else timeout
    path = gdir / "gitreg.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise GitError(
                    f"another gitreg process is writing to this repository (it holds {path}); "
                    f"gave up after {wait:g} s, try again when it has finished"
                ) from None
            time.sleep(0.02)
    _held[gdir] = (fd, 1)
    try:
        recover(repo.git, repo.root, gdir)
        yield
    finally:
        del _held[gdir]
        os.close(fd)  # closing the descriptor releases the flock


def locked(method: F) -> F:
    """Run a Registry write method under the repository lock."""

    @wraps(method)
    def wrapper(self: HasGit, *args: Any, **kwargs: Any) -> Any:
        with hold(self):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- the journal ---------------------------------------------------------------------------


def begin(root: Path, op_id: str, paths: Sequence[str]) -> None:
    """Record that the write ``op_id`` is about to change ``paths``."""
    journal = git_dir(root) / "gitreg-journal"
    tmp = journal.with_name(f"{TMP_PREFIX}journal")
    tmp.write_text(json.dumps({"op": op_id, "paths": list(paths)}))
    os.replace(tmp, journal)


def end(root: Path) -> None:
    (git_dir(root) / "gitreg-journal").unlink(missing_ok=True)


def recover(git: Git, root: Path, gdir: Path) -> list[str]:
    """Undo what an interrupted write left behind; returns the paths put back."""
    restored: list[str] = []
    journal = gdir / "gitreg-journal"
    _clear_stale_git_locks(root, gdir, journal)
    if journal.exists():
        try:
            entry = json.loads(journal.read_text())
            op, paths = str(entry["op"]), [str(p) for p in entry["paths"]]
        except (ValueError, KeyError, TypeError):
            op, paths = "", []
        # A write makes its temporary files beside the files it names, after the journal
        # records them: only those folders can hold one, so recovery never walks the
        # whole registry (unless the journal itself is unreadable).
        folders = {(root / rel).parent for rel in paths} if paths else _all_folders(root)
        for folder in folders:
            for stray in folder.glob(f"{TMP_PREFIX}*") if folder.is_dir() else ():
                stray.unlink(missing_ok=True)
        head = git.run("log", "-1", "--format=%B", "HEAD", check=False)
        if paths and f"Gitreg-Op: {op}" not in head:
            git.restore(paths)
            restored = paths
            for rel in paths:
                _prune_empty((root / rel).parent, root / "models")
        journal.unlink()
    (gdir / f"{TMP_PREFIX}journal").unlink(missing_ok=True)
    return restored


# git's own lock files at the top of .git (never gitreg's, nor config.lock: a person may be
# editing the configuration)
_GIT_LOCKS = ("index.lock", "HEAD.lock", "ORIG_HEAD.lock", "packed-refs.lock", "shallow.lock")
_GITS = ("git", "git-remote-http", "git-receive-pack")  # what may hold a lock in a repository
STALE_AFTER = 2.0  # seconds: a lock file a live git holds is short-lived, or it is gone


def _clear_stale_git_locks(root: Path, gdir: Path, journal: Path) -> None:
    """Remove the lock files (``index.lock``, ``HEAD.lock``, a ref's ``.lock``) that a git
    command killed with its gitreg process left behind, so recovery and every later git
    command can run. This process holds gitreg's lock, so no gitreg write is running.

    Where /proc tells which processes live, a lock is stale when no git process works in
    this repository and the file is ``STALE_AFTER`` seconds old (a younger one is waited
    for, then checked again). Elsewhere only the ``index.lock`` of a write that left its
    journal, older than that journal, is removed: a live ``git commit`` waiting for its
    editor must never lose its lock."""
    if not Path("/proc/self").is_dir():
        index_lock = gdir / "index.lock"
        try:
            if os.lstat(index_lock).st_mtime >= os.lstat(journal).st_mtime - 1:
                index_lock.unlink()
        except FileNotFoundError:
            pass
        return
    found = [gdir / n for n in _GIT_LOCKS if os.path.lexists(gdir / n)]
    found += (gdir / "refs").rglob("*.lock")
    if not found or _live_git(root):
        return
    for lock_file in found:
        try:
            age = time.time() - os.lstat(lock_file).st_mtime
        except FileNotFoundError:
            continue
        if age < STALE_AFTER:
            time.sleep(STALE_AFTER - age)
            if _live_git(root):
                return
        lock_file.unlink(missing_ok=True)


def clear_remote_locks(url: str) -> None:
    """For a remote on this machine (a path or ``file://`` URL): remove the ref locks a
    push killed with the git that served it left there, by the rule this repository's
    own are removed by (no git working there, older than ``STALE_AFTER``). Without that
    every later push loses a "race" against nobody."""
    path = Path(url.removeprefix("file://")) if "://" not in url.removeprefix("file://") else None
    if path is None or not path.is_absolute():
        return
    gdir = path if (path / "refs").is_dir() else path / ".git"
    if (gdir / "refs").is_dir():
        _clear_stale_git_locks(path, gdir, gdir / "no journal: nothing is removed without /proc")


def _live_git(root: Path) -> bool:
    """Whether a git process other than this process's own children (best effort, Linux
    /proc) runs with its cwd in ``root``."""
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    here = str(root.resolve())
    for pid in proc.iterdir():
        if not pid.name.isdigit():
            continue
        try:
            if (pid / "comm").read_text().strip() not in _GITS:
                continue
            if (pid / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                continue  # this process's own reader (``Git.cat``), not someone else's git
            cwd = os.readlink(pid / "cwd")
        except (OSError, IndexError):
            continue
        if cwd == here or cwd.startswith(f"{here}/"):
            return True
    return False


def settle(root: Path) -> None:
    """For readers: if a killed write left its journal, undo it before reading, so no read
    sees a write that never committed. Without waiting: a live writer holding the lock
    finishes or undoes its own work (and a reader without write access reads as is)."""
    dot = root / ".git"
    journal = (dot if dot.is_dir() else git_dir(root)) / "gitreg-journal"
    if not journal.exists():
        return
    try:
        with hold(_Repo(root), timeout=0):
            pass
    except (GitError, OSError):
        return


class _Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.git = Git(root)


def _all_folders(root: Path) -> list[Path]:
    out = []
    for folder, dirs, _files in os.walk(root):
        if ".git" in dirs:
            dirs.remove(".git")
        out.append(Path(folder))
    return out


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents and folder.is_dir():
        if any(folder.iterdir()):
            return
        folder.rmdir()
        folder = folder.parent
