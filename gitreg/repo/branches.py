"""Writes that travel on a branch of their own: with ``writes: {via: pull_request}`` the
default branch is protected, so a write shared with ``--push`` is made on the remote's
tip, kept on a short-lived branch (one operation per branch, named after it), pushed
there, and the local default branch is put back equal to the remote's.

``refresh`` is what waiting for the merge does on each round: it says whether the
operation landed on the default branch (its ``Gitreg-Op`` id is found there, whatever the
merge method), and when the default branch moved so that the branch no longer applies
(a version number taken meanwhile, a file changed on both sides) it re-applies the
operation on the new tip with ``sync.replay`` — renumbering, and saying so — and moves
the branch with a lease. Forge calls (opening the pull request) are not made here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from gitreg.errors import Conflict, GitError, PushRejected
from gitreg.layout import parse_path, versions_dir
from gitreg.repo import lock, sync
from gitreg.repo.git import Git
from gitreg.repo.sync import Writer, default_timeout

W = TypeVar("W", bound=Writer)
T = TypeVar("T")
PREFIX = "gitreg/"


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchWrite:
    """One operation on a branch of its own: ``commit`` on ``branch``, made on ``base``
    (the remote default branch's tip then), pushed to ``remote``."""

    remote: str
    branch: str
    base: str
    commit: str
    op_id: str
    subject: str
    version: tuple[str, int] | None  # (model, number) of a version the operation adds


@dataclass(frozen=True, slots=True, kw_only=True)
class Refresh:
    """One look at the remote: ``landed`` is the default-branch commit that carries the
    operation (None: not merged yet); ``renumbered`` is (old, new) when this look re-applied
    the operation and its version number changed."""

    write: BranchWrite
    landed: str | None = None
    renumbered: tuple[int, int] | None = None
    reapplied: bool = False


def write_on_branch(
    reg: W, op: Callable[[W], T], *, remote: str = "origin", timeout: float | None = None
) -> tuple[T, BranchWrite | None]:
    """Run the write ``op(reg)`` on the remote default branch's tip and push it to a new
    branch; None when the write changed nothing. The local default branch ends equal to
    the remote's (fast-forwarded first if it was behind; refused if it holds commits the
    remote lacks, which a protected branch would never take)."""
    git = reg.git
    timeout = default_timeout() if timeout is None else timeout
    with lock.hold(reg):
        tip = _sync_local(reg, remote, timeout)
        op_id = uuid.uuid4().hex
        reg.committer.op_id = op_id
        try:
            result = op(reg)
        finally:
            reg.committer.op_id = None
        commit = git.rev_parse("HEAD")
        if commit == tip:
            return result, None
        subject = git.run("log", "-1", "--format=%s", commit).strip()
        branch = branch_name(subject, op_id)
        try:
            git.run("branch", "-f", branch, commit)  # kept locally: --wait re-applies it
            outcome = git.push_branch(remote, branch, timeout)
        finally:
            _reset(reg, tip)
        if outcome.status != "ok":
            raise PushRejected(
                f"{remote} refused the branch {branch}: {outcome.detail or outcome.status}; "
                f"the change is kept on the local branch {branch} only"
            )
        return result, BranchWrite(
            remote=remote,
            branch=branch,
            base=tip,
            commit=commit,
            op_id=op_id,
            subject=subject,
            version=_added_version(git, commit),
        )


def branch_name(subject: str, op_id: str) -> str:
    """``gitreg/<what>-<op id>``: readable, and unique to the operation (not to a version
    number, which may change when the operation is re-applied)."""
    words = re.sub(r"\bv\d+\b", "", subject.lower())
    slug = re.sub(r"[^a-z0-9._-]+", "-", words).strip("-.")[:48].strip("-.")
    return f"{PREFIX}{slug or 'write'}-{op_id[:8]}"


def refresh(reg: Writer, w: BranchWrite, *, timeout: float | None = None) -> Refresh:
    """Fetch the default branch; report the operation's landing, or re-apply it on the new
    tip if the branch no longer applies there (and push the branch with a lease)."""
    git = reg.git
    timeout = default_timeout() if timeout is None else timeout
    with lock.hold(reg):
        tip = _sync_local(reg, w.remote, timeout)
        landed = _landed(git, tip, w)
        if landed is not None:
            return Refresh(write=w, landed=landed)
        if tip == w.base or not _stale(git, tip, w):
            return Refresh(write=w)
        try:
            new = sync.replay(reg, w.commit, w.op_id, remote=w.remote)
            git.run("branch", "-f", w.branch, new)
            outcome = git.push_branch(w.remote, w.branch, timeout, lease=w.commit)
            if outcome.status != "ok":
                git.run("branch", "-f", w.branch, w.commit)
        finally:
            _reset(reg, tip)
        if outcome.status != "ok":
            raise PushRejected(
                f"could not update {w.remote}/{w.branch} with the re-applied change: "
                f"{outcome.detail or outcome.status}"
            )
        version = _added_version(git, new)
        renumbered = None
        if w.version and version and version[1] != w.version[1]:
            renumbered = (w.version[1], version[1])
        subject = git.run("log", "-1", "--format=%s", new).strip()
        moved = replace(w, base=tip, commit=new, version=version, subject=subject)
        return Refresh(write=moved, renumbered=renumbered, reapplied=True)


def landed_version(git: Git, landed: str, w: BranchWrite) -> int | None:
    """The number of the version the operation added, as the default branch has it."""
    got = _added_version(git, landed)
    return got[1] if got else (w.version[1] if w.version else None)


# --- steps -------------------------------------------------------------------------------


def _sync_local(reg: Writer, remote: str, timeout: float) -> str:
    """Fetch the default branch; bring the local one to the remote tip; return the tip."""
    git = reg.git
    branch = reg.config.default_branch
    git.remote_url(remote)
    current = git.current_branch()
    if current != branch:
        raise GitError(
            f"gitreg writes on {branch}, but {current or 'a detached HEAD'} is checked out; "
            f"switch with 'git switch {branch}'"
        )
    git.fetch(remote, branch, timeout)
    tip = git.rev_parse(f"refs/remotes/{remote}/{branch}")
    head = git.rev_parse("HEAD")
    if head != tip:
        if not git.is_ancestor(head, tip):
            raise Conflict(
                f"{branch} has commits {remote}/{branch} lacks, and gitreg.yaml sends writes "
                f"through pull requests; move them to a branch of their own (git switch -c) "
                f"and reset {branch} to {remote}/{branch}"
            )
        _reset(reg, tip)
    return tip


def _reset(reg: Writer, sha: str) -> None:
    reg.git.run("reset", "-q", "--keep", sha)
    reg.__dict__.pop("config", None)  # the policy may differ on the new tip


def _landed(git: Git, tip: str, w: BranchWrite) -> str | None:
    """The commit on the default branch's history since the branch's base that carries the
    operation's id: the branch's own commit (a merge) or a squash or rebase of it."""
    out = git.run(
        "log", "-F", f"--grep=Gitreg-Op: {w.op_id}",
        "--format=%H %(trailers:key=Gitreg-Op,valueonly,separator=%x2C)", f"{w.base}..{tip}",
    )  # fmt: skip
    for line in out.splitlines():
        sha, _, ops = line.partition(" ")
        if w.op_id in ops.split(","):
            return sha
    return None


def _stale(git: Git, tip: str, w: BranchWrite) -> bool:
    """Does the branch no longer apply on ``tip``: it conflicts, or the version number it
    adds is taken there (a number must never be reused, even without a conflict)."""
    merged = git.run("merge-tree", "--write-tree", tip, w.commit, check=False)
    if not re.fullmatch(r"[0-9a-f]{40,64}", merged.strip()):
        return True
    if w.version is None:
        return False
    name, number = w.version
    issued = git.run("log", "--format=", "--name-only", tip, "--", f"{versions_dir(name)}/")
    taken = [v.version for v in map(parse_path, issued.split()) if v and v.version]
    return number in taken


def _added_version(git: Git, commit: str) -> tuple[str, int] | None:
    """The version file a commit (or, for a merge, its merged side) adds."""
    parents = git.run("rev-list", "--parents", "-1", commit).split()[1:]
    if not parents:
        return None
    side = commit if len(parents) == 1 else parents[-1]
    base = parents[0]
    out = git.run(
        "diff-tree", "-r", "--no-renames", "--diff-filter=A", "--name-only", base, side, "--"
    )
    for rel in out.split():
        where = parse_path(rel)
        if where is not None and where.version is not None:
            return where.name, where.version
    return None


__all__ = ["BranchWrite", "Refresh", "branch_name", "landed_version", "refresh", "write_on_branch"]
