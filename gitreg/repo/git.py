"""Everything gitreg asks of git.

Local operations (read a file at a ref, list a tree, commit explicit paths, walk history)
run the ``git`` binary directly: it starts in milliseconds, where importing GitPython
costs ~150 ms on every command. GitPython is imported lazily, here only, for remote work.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gitreg.errors import GitError, NotFound

_SHA_RE = re.compile(r"[0-9a-f]{40}")


class Git:
    """A git work tree. Every method raises GitError with git's own words on failure."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._batch: subprocess.Popen[bytes] | None = None

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        return self.run_bytes(*args, input=input, check=check).decode("utf-8", "replace")

    def run_bytes(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=self.root, input=input, capture_output=True, check=False
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        if check and proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = msg[-1] if msg else f"exit status {proc.returncode}"
            raise GitError(f"git {args[0]} failed: {detail}")
        return proc.stdout

    # --- repository -------------------------------------------------------------------

    @classmethod
    def init(cls, root: Path, branch: str = "main") -> Git:
        root.mkdir(parents=True, exist_ok=True)
        g = cls(root)
        g.run("init", "-q", "-b", branch)
        return g

    @classmethod
    def find(cls, start: Path) -> Git:
        """The work tree containing ``start``."""
        if not start.is_dir():
            raise NotFound(f"{start} is not a directory")
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise NotFound(f"{start} is not inside a git repository; run 'gitreg init {start}'")
        return cls(Path(proc.stdout.strip()))

    def ident(self) -> str:
        """``Name <email>`` of the author git would record, or a clear error."""
        proc = subprocess.run(
            ["git", "var", "GIT_AUTHOR_IDENT"],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        m = re.match(r"(.*<[^>]*>)", proc.stdout)
        if proc.returncode != 0 or not m:
            raise GitError("git does not know who you are; set git config user.name and user.email")
        return m.group(1).strip()

    def rev_parse(self, ref: str) -> str:
        if ref.startswith("-"):
            raise NotFound(f"unknown git ref {ref!r}")
        out = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if not _SHA_RE.fullmatch(out.strip()):
            raise NotFound(f"unknown git ref {ref!r}")
        return out.strip()

    def commit_before(self, when: str, ref: str = "HEAD") -> str:
        """The newest first-parent commit of ``ref`` made at or before ``when``."""
        out = self.run(
            "rev-list", "-1", "--first-parent", "--format=%ct", f"--before={when}", ref, "--"
        ).split()
        # git reads a small ``@<epoch>`` (before 1973) as no date at all and answers with
        # the tip: a commit newer than the date asked for means there is no answer.
        epoch = int(when[1:]) if when.startswith("@") and when[1:].isdigit() else None
        if len(out) < 3 or (epoch is not None and int(out[2]) > epoch):
            raise NotFound(
                "the registry has no commit at or before that date (its first commit is later)"
            )
        return out[1]

    def is_ancestor(self, a: str, b: str) -> bool:
        """Whether commit ``a`` is ``b`` or an ancestor of it."""
        proc = subprocess.run(
            ["git", "merge-base", "--is-ancestor", a, b],
            cwd=self.root,
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of commits ``a`` and ``b``, or None if they share none."""
        return self.run("merge-base", a, b, check=False).strip() or None

    def has_remote(self, remote: str) -> bool:
        """Whether ``remote`` has a URL configured."""
        return self.configured_url(remote) is not None

    def configured_url(self, remote: str) -> str | None:
        """``remote``'s URL as configured (unchecked; ``remote_url`` checks it), or None."""
        return self.run("config", "--get", f"remote.{remote}.url", check=False).strip() or None

    def branch_tip(self, branch: str) -> str | None:
        """The commit local branch ``branch`` points at, or None if there is no such branch."""
        out = self.run(
            "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False
        )
        return out.strip() or None

    def is_branch_name(self, name: str) -> bool:
        """Whether git accepts ``name`` as a branch name as it is."""
        return self.run("check-ref-format", "--branch", name, check=False).strip() == name

    def parents(self, commit: str) -> list[str]:
        """The parents of ``commit`` (none for a root commit or an unknown one)."""
        return self.run("rev-list", "--parents", "-1", commit, "--", check=False).split()[1:]

    def git_path(self, name: str) -> Path:
        """Where ``.git/<name>`` is for this work tree (``git rev-parse --git-path``)."""
        return self.root / self.run("rev-parse", "--git-path", name).strip()

    def remotes(self) -> list[str]:
        """The names of the repository's remotes."""
        return self.run("remote", check=False).split()

    def current_branch(self) -> str | None:
        out = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
        return out or None

    def dirty_paths(self, *paths: str) -> list[str]:
        """Paths under ``paths`` with changes git has not committed (including untracked)."""
        out = self.run("status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
        return [entry[3:] for entry in out.split("\0") if entry]

    # --- reading at a ref -----------------------------------------------------------

    def show(self, ref: str, path: str) -> bytes | None:
        """A file's bytes at ``ref``, or None if it is not a file there.

        One ``git cat-file --batch`` process answers every call: reading 1,000 manifests
        at a ref costs one process start, not 1,000."""
        got = self.cat(f"{ref}:{path}")
        return got[2] if got and got[1] == "blob" else None

    def cat(self, spec: str) -> tuple[str, str, bytes] | None:
        """``(object id, type, raw bytes)`` of the object ``spec`` names, or None."""
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        assert self._batch.stdin and self._batch.stdout
        self._batch.stdin.write(f"{spec}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) != 3:  # "<spec> missing", or the process died
            return None
        data = self._batch.stdout.read(int(header[2]) + 1)[:-1]
        return header[0].decode(), header[1].decode(), data

    def head(self) -> tuple[str, str] | None:
        """``(commit, tree)`` of HEAD, or None while the current branch has no commit."""
        got = self.cat("HEAD")
        if got is None or got[1] != "commit":
            return None
        first = got[2].split(b"\n", 1)[0].decode()  # a commit object starts "tree <id>"
        return got[0], first.removeprefix("tree ")

    def blobs(self, ref: str, paths: Sequence[str]) -> Iterator[tuple[str, str]]:
        """``(path, blob id)`` of every file under ``paths`` at ``ref`` (one ``ls-tree -r``)."""
        out = self.run_bytes("ls-tree", "-r", "-z", ref, "--", *paths)
        for line in out.split(b"\0"):
            meta, _, path = line.decode("utf-8", "replace").partition("\t")
            kind = meta.split(" ")
            if len(kind) == 3 and kind[1] == "blob":
                yield path, kind[2]

    def set_config(self, key: str, value: str) -> None:
        self.run("config", key, value)

    def list_tree(self, ref: str, path: str) -> list[tuple[str, str]]:
        """``(mode, name)`` of the direct children of folder ``path`` at ``ref``."""
        out = self.run("ls-tree", "-z", f"{ref}:{path}", check=False) if path else ""
        entries = []
        for line in out.split("\0"):
            if line:
                meta, _, name = line.partition("\t")
                entries.append((meta.split(" ")[0], name))
        return entries

    # --- writing ----------------------------------------------------------------------

    def commit(self, paths: Sequence[str], message: str) -> str:
        """Commit exactly ``paths`` (added, changed or deleted), nothing else that is staged."""
        self.run("add", "--all", "--", *paths)
        self.run("commit", "-q", "--no-verify", "-m", message, "--", *paths)
        return self.run("rev-parse", "HEAD").strip()

    def start(self, *args: str) -> Pending:
        """Run ``git args`` in the background; ``.result()`` waits for its output."""
        try:
            proc = subprocess.Popen(
                ["git", *args],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH") from None
        return Pending(proc, args[0])

    def start_unstaged(self, path: str) -> Pending:
        """In the background: the paths under ``path`` whose work-tree file differs from
        git's index (NUL-separated), judged by full stat data and content where racy,
        whatever the repository's settings would relax (fsmonitor, checkStat, ctime)."""
        strict = ("core.fsmonitor=false", "core.checkStat=default", "core.trustctime=true")
        config = [arg for c in strict for arg in ("-c", c)]
        return self.start(*config, "diff-files", "--name-only", "-z", "--", f"{path}/")

    def start_staged(self, path: str) -> Pending:
        """In the background: git's index under ``path``, one NUL-ended entry each, as
        ``<tag> <mode> <blob id> <merge stage>\t<path>`` (tag H: plain; h: assume-unchanged;
        S: skip-worktree)."""
        return self.start("ls-files", "-s", "-v", "-z", "--", f"{path}/")

    def index_stamp(self) -> str | None:
        """What changes whenever git writes its index: the file's stat data and checksum
        (None without an index, or one written without a checksum)."""
        try:
            with open(self.root / ".git" / "index", "rb") as f:
                st = os.fstat(f.fileno())
                f.seek(max(0, st.st_size - 32))
                tail = f.read()
        except OSError:
            return None
        if not tail.strip(b"\0"):
            return None  # index.skipHash: no checksum to go by
        return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}:{tail.hex()}"

    def start_update_index(self, paths: Sequence[str], resplit: bool = False) -> Pending:
        """In the background: make the index entries of ``paths`` match the work tree (an
        absent file is removed), writing their blobs and refreshing their stat data.
        ``resplit`` writes a new shared index (``core.splitIndex``) with every entry in it.
        Wait for it with ``result()``, never ``cancel()``: a killed update-index leaves
        ``index.lock`` behind."""
        split = ["--split-index"] if resplit else []
        return self.start("update-index", *split, "--add", "--remove", "--", *paths)

    def move_head(self, new: str, old: str, reflog: str) -> None:
        """Point HEAD's branch (or a detached HEAD) from commit ``old`` to ``new`` with a
        reflog entry, as ``git commit`` does; GitError if HEAD is no longer at ``old``."""
        self.run("update-ref", "-m", reflog, "HEAD", new, old)

    def restore(self, paths: Iterable[str]) -> None:
        """Put ``paths`` back as HEAD has them (used to undo a write whose commit failed)."""
        paths = list(paths)
        if paths:
            self.run("reset", "-q", "--", *paths, check=False)
            in_head = [p for p in paths if self.show("HEAD", p) is not None]
            if in_head:  # one path HEAD lacks would make checkout restore none of them
                self.run("checkout", "-q", "HEAD", "--", *in_head, check=False)
            for p in set(paths) - set(in_head):
                (self.root / p).unlink(missing_ok=True)

    # --- remote (GitPython, imported here only) -----------------------------------------

    def remote_url(self, remote: str) -> str:
        """The URL of ``remote``, refused before any network call if it could run code."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", remote):
            raise GitError(f"invalid remote name {remote!r}")
        urls = self.run("config", "--get-all", f"remote.{remote}.url", check=False).split()
        urls += self.run("config", "--get-all", f"remote.{remote}.pushurl", check=False).split()
        if not urls:
            raise GitError(f"this repository has no remote {remote!r}; add one with git remote add")
        for url in urls:
            check_remote_url(url)
        return urls[0]

    def fetch(self, remote: str, branch: str, timeout: float) -> None:
        """Update ``refs/remotes/<remote>/<branch>`` from the remote, within ``timeout``."""
        # GitPython costs ~150 ms; only remote work needs it
        import git as gitpython  # noqa: PLC0415

        self.remote_url(remote)
        try:
            gitpython.Repo(self.root).remote(remote).fetch(
                f"refs/heads/{branch}:refs/remotes/{remote}/{branch}",
                kill_after_timeout=timeout,
            )
        except gitpython.GitCommandError as e:
            raise GitError(f"could not fetch from {remote}: {_why(e, timeout)}") from None

    def push(self, remote: str, branch: str, timeout: float) -> PushOutcome:
        """Push ``branch`` fast-forward only (never forced) and classify the answer."""
        return self._push(remote, f"refs/heads/{branch}:refs/heads/{branch}", timeout)

    def push_branch(
        self, remote: str, branch: str, timeout: float, *, lease: str | None = None
    ) -> PushOutcome:
        """Push the local ``branch``. Without ``lease`` only a new branch or a
        fast-forward lands; with it (a full sha) the branch is replaced only if it still
        points there (``--force-with-lease``, a compare-and-swap: gitreg uses it only for
        the short-lived branches of its own pull requests, never the default branch)."""
        opts: dict[str, Any] = {"force_with_lease": f"refs/heads/{branch}:{lease}"} if lease else {}
        return self._push(remote, f"refs/heads/{branch}:refs/heads/{branch}", timeout, **opts)

    def _push(self, remote: str, refspec: str, timeout: float, **opts: Any) -> PushOutcome:
        import logging  # noqa: PLC0415 (only remote work configures GitPython's logger)

        # GitPython costs ~150 ms; only remote work needs it
        import git as gitpython  # noqa: PLC0415

        self.remote_url(remote)
        logging.getLogger("git.remote").setLevel(logging.ERROR)  # the library stays silent
        progress = gitpython.RemoteProgress()
        try:
            infos = (
                gitpython.Repo(self.root)
                .remote(remote)
                .push(refspec, progress=progress, kill_after_timeout=timeout, **opts)
            )
        except gitpython.GitCommandError as e:
            return PushOutcome("unknown", _why(e, timeout))
        said = "\n".join(
            line.removeprefix("remote:").strip()
            for line in [*progress.other_lines, *progress.error_lines]
            if line.startswith("remote:") and line.removeprefix("remote:").strip()
        )
        failed = gitpython.PushInfo.REJECTED | gitpython.PushInfo.REMOTE_REJECTED
        failed |= gitpython.PushInfo.ERROR | gitpython.PushInfo.REMOTE_FAILURE
        if not infos:
            error = getattr(infos, "error", None)
            return PushOutcome("unknown", _why(error, timeout) if error else "no answer")
        info = infos[0]
        if not info.flags & failed:
            return PushOutcome("ok", "")  # git reported the ref updated, whatever came after
        summary = info.summary.strip()
        if info.flags & gitpython.PushInfo.REJECTED or _LOST_RACE.search(summary):
            return PushOutcome("race", summary)
        return PushOutcome("rejected", said or summary)


class Pending:
    """A git command running in the background (see ``Git.start``)."""

    def __init__(self, proc: subprocess.Popen[bytes], what: str) -> None:
        self.proc = proc
        self.what = what

    def result(self, check: bool = True) -> str:
        out, err = self.proc.communicate()
        if check and self.proc.returncode != 0:
            msg = err.decode("utf-8", "replace").strip().splitlines()
            detail = msg[-1] if msg else f"exit status {self.proc.returncode}"
            raise GitError(f"git {self.what} failed: {detail}")
        return out.decode("utf-8", "replace")

    def cancel(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.communicate()


class PushOutcome:
    """How a push ended: ``ok``; ``race`` (the remote moved: fetch and retry); ``rejected``
    (a hook or protection said no: ``detail`` is its text); ``unknown`` (no answer, so it
    may have landed: look for the operation's id before doing anything again)."""

    def __init__(self, status: str, detail: str) -> None:
        self.status = status
        self.detail = detail

    def __repr__(self) -> str:
        return f"PushOutcome({self.status!r}, {self.detail!r})"


_LOST_RACE = re.compile(r"fetch first|non-fast-forward|stale info|cannot lock ref|failed to lock|"
                        r"incorrect old value|failed to update ref")  # fmt: skip
_UNSAFE_URL = re.compile(r"^-|^[A-Za-z][A-Za-z0-9+.-]*::")  # ext::, fd::, any helper::


def check_remote_url(url: str) -> str:
    """Refuse remote URLs whose transport runs a command (``ext::``, ``fd::``) or that look
    like an option (CVE-2022-24439), before any git call uses them."""
    if _UNSAFE_URL.search(url) or any(ord(c) < 32 for c in url):
        raise GitError(
            f"refusing remote URL {url[:60]!r}: gitreg does not use ext::, fd:: or other "
            "transports that run commands; use https://, ssh:// or a path"
        )
    return url


def _why(e: Exception, timeout: float) -> str:
    text = str(getattr(e, "stderr", "") or e)
    if "Timeout" in text or "did not complete" in text or getattr(e, "status", None) == -9:
        return f"no answer within {timeout:g} s"
    lines = [ln.strip(" '\"") for ln in text.splitlines() if ln.strip(" '\"")]
    fatal = [ln for ln in lines if "fatal:" in ln or "error:" in ln]
    return (fatal or lines or ["unknown error"])[-1].replace("stderr: ", "")
