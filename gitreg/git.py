"""Everything gitreg asks of git.

Local operations (read a file at a ref, list a tree, commit explicit paths, walk history)
run the ``git`` binary directly: it starts in milliseconds, where importing GitPython
costs ~150 ms on every command. GitPython is imported lazily, here only, for remote work.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

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
        out = self.run("rev-list", "-1", "--first-parent", f"--before={when}", ref, "--")
        if not out.strip():
            raise NotFound("the registry has no commit at or before that date")
        return out.strip()

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
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        assert self._batch.stdin and self._batch.stdout
        self._batch.stdin.write(f"{ref}:{path}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) != 3:  # "<spec> missing", or the process died
            return None
        data = self._batch.stdout.read(int(header[2]) + 1)[:-1]
        return data if header[1] == b"blob" else None

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

    def restore(self, paths: Iterable[str]) -> None:
        """Put ``paths`` back as HEAD has them (used to undo a write whose commit failed)."""
        paths = list(paths)
        if paths:
            self.run("reset", "-q", "--", *paths, check=False)
            self.run("checkout", "-q", "HEAD", "--", *paths, check=False)
            for p in paths:
                full = self.root / p
                if full.exists() and not self.show("HEAD", p):
                    full.unlink()
