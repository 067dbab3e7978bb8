"""Sharing a registry: a write with ``--push``, and ``gitreg push`` for gitreg commits made
without it. One loop does both: fetch, look for operations that already landed, rebuild
the local branch on the remote tip if it moved, push fast-forward only, and on a lost race
back off with jitter and go round again (bounded).

A write pushed with ``push_op`` is re-run as an *operation* on the new tip: a new version
is renumbered, and a stage or alias change is checked again and refused if it no longer
applies. A gitreg commit made earlier without ``--push`` is replayed file by file (a
version that collided is renumbered; a file the remote changed too is a conflict).
Every gitreg commit carries a ``Gitreg-Op`` trailer; after a push whose answer was lost,
the loop looks for that id on the remote before doing anything again.

Nothing here ever forces a push or rewrites the remote; only gitreg's own unpushed
commits are ever set aside locally, and a branch holding anyone else's is refused.
"""

from __future__ import annotations

import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gitreg.config import Config
from gitreg.errors import Conflict, GitError, GitregError, NotFound, PushRejected
from gitreg.files import yamlio
from gitreg.files.check import dump_retired, retired_numbers
from gitreg.files.records import dump_record, version_files
from gitreg.files.tree import Tree
from gitreg.layout import RETIRED, model_path, parse_path
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.repo import lock
from gitreg.repo.commit import Committer
from gitreg.repo.git import Git


class Writer(Protocol):
    """What sync needs of a registry (``registry.Registry`` is one): its repository, its
    policy, the reads that number a replayed version, and its commit engine."""

    root: Path
    tree: Tree

    @property
    def git(self) -> Git: ...
    @property
    def config(self) -> Config: ...
    @property
    def committer(self) -> Committer: ...
    def get_model(self, name: str) -> RegisteredModel: ...
    def version_numbers(self, name: str) -> list[int]: ...


W = TypeVar("W", bound=Writer)
T = TypeVar("T")
RETRIES = 30


def default_timeout() -> float:
    """Seconds one fetch or push may take (``GITREG_TIMEOUT``, default 60)."""
    try:
        return float(os.environ.get("GITREG_TIMEOUT", "60"))
    except ValueError:
        return 60.0


@dataclass(frozen=True)
class Renumbered:
    """A local version that landed under another number: the remote had issued ``was``."""

    name: str
    was: int
    now: int


@dataclass(frozen=True)
class PushReport:
    """What a push did: ``pushed`` gitreg commits reached ``remote/branch`` (``landed``
    counts those found there already, e.g. after a lost answer) after ``retries`` lost
    races; ``renumbered`` lists each local version that landed under a new number."""

    remote: str
    branch: str
    pushed: int
    landed: int
    retries: int
    renumbered: tuple[Renumbered, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.remote}/{self.branch}"


@dataclass(frozen=True)
class _Commit:
    sha: str
    op: str
    subject: str


def push_op(
    reg: W,
    op: Callable[[W], T],
    *,
    remote: str = "origin",
    retries: int = RETRIES,
    timeout: float | None = None,
) -> tuple[T, PushReport]:
    """Run the write ``op(reg)`` on the remote's tip and push it; returns its result (from
    the run that landed) and a report. Raises PushRejected if a hook refuses, Conflict if
    the change no longer applies on the new tip, GitError if the remote cannot be
    reached (saying whether the change is committed locally)."""
    box: list[T] = []

    def run(r: W) -> None:
        box[:] = [op(r)]

    with lock.hold(reg):
        report = _Loop(reg, remote, retries, timeout).run(run, uuid.uuid4().hex)
    return box[-1], report


def push(
    reg: Writer, *, remote: str = "origin", retries: int = RETRIES, timeout: float | None = None
) -> PushReport:
    """Push the local gitreg commits the remote does not have, replaying them on its tip."""
    with lock.hold(reg):
        return _Loop(reg, remote, retries, timeout).run(None, None)


class _Loop:
    def __init__(self, reg: Writer, remote: str, retries: int, timeout: float | None) -> None:
        self.reg, self.git, self.remote, self.retries = reg, reg.git, remote, retries
        self.timeout = default_timeout() if timeout is None else timeout
        self.branch = reg.config.default_branch
        self.moved: dict[tuple[str, str], tuple[int, int]] = {}  # (op, model) -> (was, now)
        self.tracking = f"refs/remotes/{remote}/{self.branch}"
        self.git.remote_url(remote)  # refuses unsafe URLs before any network call
        current = self.git.current_branch()
        if current != self.branch:
            raise GitError(
                f"gitreg pushes {self.branch}, but {current or 'a detached HEAD'} is checked "
                f"out; switch with 'git switch {self.branch}'"
            )

    def run(self, op: Callable[[Any], None] | None, op_id: str | None) -> PushReport:
        ran = False
        lost = 0
        for attempt in range(self.retries + 1):
            self._fetch(ran)
            tip = self.git.rev_parse(self.tracking)
            pending = self._pending(tip)
            landed = self._landed(tip, [c.op for c in pending] + ([op_id] if op_id else []))
            if op_id in landed:
                return self._report(0, len(landed), lost)
            todo = [c for c in pending if c.op not in landed]
            head = self.git.rev_parse("HEAD")
            if not self._is_ancestor(tip, head) or len(todo) != len(pending):
                self._reset(tip)
                for c in todo:
                    if c.op == op_id and op is not None:
                        self._run(op, op_id, ran)
                        continue
                    try:
                        self._replay(c)
                    except GitregError:
                        self._reset(head)  # keep every local commit as it was
                        raise
            if op is not None and op_id is not None and op_id not in {c.op for c in todo}:
                self._run(op, op_id, ran)
            ran = True
            head = self.git.rev_parse("HEAD")
            if head == tip:
                return self._report(0, len(landed), lost)
            count = len(self._pending(tip))
            lock.crash_point("after_commit_before_push")
            outcome = self.git.push(self.remote, self.branch, self.timeout)
            if outcome.status == "ok":
                lock.crash_point("after_push")
                return self._report(count, len(landed), lost)
            if outcome.status == "race":
                lost += 1
                lock.clear_remote_locks(self.git.remote_url(self.remote))
                time.sleep(min(1.0, 0.02 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.5))
                continue
            if outcome.status == "rejected":
                self._reset(tip)
                raise PushRejected(
                    f"{self.remote} refused the push: {outcome.detail or 'no reason given'}; "
                    f"the local commit was undone (git's reflog keeps it as {head[:12]})"
                )
            return self._after_unknown(outcome.detail, tip, head, op_id, lost)
        raise PushRejected(
            f"gave up after {lost} lost races: {self.remote}/{self.branch} kept moving; the "
            "change is committed locally, run 'gitreg push' to try again"
        )

    # --- steps ---------------------------------------------------------------------------

    def _fetch(self, committed: bool) -> None:
        try:
            self.git.fetch(self.remote, self.branch, self.timeout)
        except GitError as e:
            if "couldn't find remote ref" in str(e):
                raise GitError(
                    f"{self.remote} has no branch {self.branch} yet; push it once with "
                    f"'git push -u {self.remote} {self.branch}'"
                ) from None
            where = (
                "the change is committed locally; run 'gitreg push' once it is reachable"
                if committed
                else "nothing was changed"
            )
            raise GitError(f"{e}; {where}") from None

    def _pending(self, tip: str) -> list[_Commit]:
        out = self.git.run(
            "log",
            "--reverse",
            "--format=%H%x00%(trailers:key=Gitreg-Op,valueonly,separator=%x2C)%x00%s%x00",
            f"{tip}..HEAD",
        )
        fields = out.split("\0")
        commits = [
            _Commit(fields[i].strip(), fields[i + 1].strip(), fields[i + 2])
            for i in range(0, len(fields) - 2, 3)
        ]
        foreign = [c for c in commits if not re.fullmatch(r"[0-9a-f]{32}", c.op)]
        if foreign:
            raise GitError(
                f"{self.branch} has {len(foreign)} commit(s) that {self.remote} does not have "
                f"and gitreg did not make (first: {foreign[0].sha[:12]} {foreign[0].subject!r}); "
                "push or drop them with git first, gitreg will not move them"
            )
        return commits

    def _landed(self, tip: str, ops: list[str]) -> set[str]:
        if not ops:
            return set()
        base = self.git.run("merge-base", tip, "HEAD", check=False).strip()
        args = [f"--grep=Gitreg-Op: {op}" for op in ops]
        out = self.git.run(
            "log",
            "-F",
            *args,
            "--format=%(trailers:key=Gitreg-Op,valueonly)",
            f"{base}..{tip}" if base else tip,
        )
        return set(out.split()) & set(ops)

    def _is_ancestor(self, a: str, b: str) -> bool:
        return self.git.run("rev-list", "-1", f"{b}..{a}", "--") == ""

    def _reset(self, sha: str) -> None:
        """Move the branch and the files it changes to ``sha``. ``reset --keep`` rewrites
        those files one by one, so it is journaled like a write: a process killed half-way
        leaves them for the next command to put back as HEAD has them."""
        paths = self.git.run("diff", "--name-only", "-z", "HEAD", sha, "--").split("\0")
        lock.begin(self.reg.root, f"reset-{uuid.uuid4().hex}", [p for p in paths if p])
        try:
            self.git.run("reset", "-q", "--keep", sha)
        finally:  # a refused reset changed nothing: only a killed one leaves the journal
            lock.end(self.reg.root)
        self.reg.__dict__.pop("config", None)  # the policy may differ on the new tip

    def _run(self, op: Callable[[Any], None], op_id: str, rerun: bool) -> None:
        self.reg.committer.op_id = op_id
        try:
            op(self.reg)
        except GitregError as e:
            if not rerun:
                raise
            raise Conflict(
                f"{self.remote}/{self.branch} changed while this was being pushed and the "
                f"change no longer applies: {e}"
            ) from None
        finally:
            self.reg.committer.op_id = None

    def _replay(self, c: _Commit) -> None:
        """Re-make local commit ``c`` on the current HEAD, file by file."""
        reg = self.reg
        out = self.git.run(
            "diff-tree", "-r", "-z", "--no-renames", "--name-only", f"{c.sha}^", c.sha
        )
        paths = [p for p in out.split("\0") if p]
        files: dict[str, bytes | None] = {}
        done: set[str] = set()
        message = self.git.run("log", "-1", "--format=%B", c.sha).strip()
        for rel in paths:
            where = parse_path(rel)
            mine = self.git.show(c.sha, rel)
            new_file = self.git.show(f"{c.sha}^", rel) is None and mine is not None
            if where is not None and where.version is not None and mine is not None and new_file:
                name, number = where.name, where.version
                try:
                    model = reg.get_model(name)
                except NotFound:
                    model = None
                taken = [
                    *reg.version_numbers(name),
                    retired_numbers(reg.tree.read(RETIRED)).get(name, 0),
                ]
                taken += [model.last_version] if model else []
                new = max(taken) + 1 if number <= max(taken) else number
                was = self.moved.get((c.op, name), (number, number))[0]
                self.moved[(c.op, name)] = (was, new)  # a later retry may move it again
                mv = ModelVersion.from_dict(yamlio.load(mine, rel).data).evolve(version=new)
                files.update(version_files([mv]))
                done |= {rel, model_path(name)}
                if model is not None:
                    files[model_path(name)] = dump_record(
                        model.evolve(last_version=max(model.last_version, new)).to_dict(), "model"
                    )
                if new != number:
                    subject, _, rest = message.partition("\n")
                    message = re.sub(rf"\bv{number}\b", f"v{new}", subject) + "\n" + rest
        for rel in paths:
            if rel in done:
                continue
            base, mine = self.git.show(f"{c.sha}^", rel), self.git.show(c.sha, rel)
            theirs = self.git.show("HEAD", rel)
            if rel == RETIRED and mine is not None:  # both sides retired names: keep all
                merged = retired_numbers(theirs)
                for name, top in retired_numbers(mine).items():
                    merged[name] = max(top, merged.get(name, 0))
                files[rel] = dump_retired(merged)
            elif theirs == base or (base is None and theirs is None):
                files[rel] = mine
            elif theirs != mine:
                raise Conflict(
                    f"local commit {c.sha[:12]} ({c.subject}) changes {rel}, which "
                    f"{self.remote}/{self.branch} changed too; nothing was pushed: undo one "
                    "of them and run 'gitreg push' again"
                )
        body = message.rpartition("\n\nGitreg-Op:")[0] or message
        reg.committer.op_id = c.op
        try:
            reg.committer.commit(body, files)
        finally:
            reg.committer.op_id = None

    def _after_unknown(
        self, detail: str, tip: str, head: str, op_id: str | None, lost: int
    ) -> PushReport:
        """The push got no answer: it may have landed. Look before saying anything."""
        mine = [c.op for c in self._pending(tip)]
        try:
            self.git.fetch(self.remote, self.branch, self.timeout)
        except GitError:
            raise GitError(
                f"the push to {self.remote} got no answer ({detail}) and it cannot be checked; "
                f"the change is committed locally as {head[:12]}: run 'gitreg push', which "
                "looks for it before pushing again"
            ) from None
        new_tip = self.git.rev_parse(self.tracking)
        landed = self._landed(new_tip, mine)
        if self._is_ancestor(head, new_tip) or (mine and landed == set(mine)):
            return self._report(0, len(mine), lost)
        raise GitError(
            f"the push to {self.remote} failed ({detail}); {self.remote}/{self.branch} does not "
            f"have the change, which is committed locally as {head[:12]}: run 'gitreg push' "
            "to try again"
        )

    def _report(self, pushed: int, landed: int, lost: int) -> PushReport:
        moved = tuple(
            Renumbered(name, was, now)
            for (_op, name), (was, now) in self.moved.items()
            if was != now
        )
        return PushReport(self.remote, self.branch, pushed, landed, lost, moved)


def replay(reg: Writer, sha: str, op_id: str, *, remote: str = "origin") -> str:
    """Re-make gitreg commit ``sha`` (operation ``op_id``) on the current HEAD, file by
    file, renumbering a new version whose number HEAD already issued; returns the new
    commit. ``repo.branches`` uses it to bring a pull request's branch up to date."""
    subject = reg.git.run("log", "-1", "--format=%s", sha).strip()
    _Loop(reg, remote, 0, None)._replay(_Commit(sha, op_id, subject))
    return reg.git.rev_parse("HEAD")
