"""Writes through pull requests (``writes: {via: pull_request}`` in gitreg.yaml): each
write shared with ``--push`` lands on a branch of its own (``repo.branches``), a pull
request (GitHub) or merge request (GitLab) is opened for it, and auto-merge is requested
where the policy asks and the forge offers it. ``wait`` then watches the default branch
until the operation lands, re-applying it when the default branch moved under it (a
version number someone else took is renumbered, and the result says so).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from gitreg.errors import GitregError
from gitreg.repo import branches
from gitreg.repo.branches import BranchWrite
from gitreg.repo.sync import Writer

W = TypeVar("W", bound=Writer)
T = TypeVar("T")
WAIT_TIMEOUT = 600.0
WAIT_INTERVAL = 5.0


class NotMerged(GitregError):
    """``--wait`` ran out of time; the pull request is still open."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Shared:
    """A write sent as a pull request: its branch, the link, whether auto-merge was
    requested, and once it merged, the commit and (a registration) the version number."""

    write: BranchWrite
    url: str | None = None
    number: int | None = None
    auto_merge: str | None = None  # "auto-merge" | "merged" | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    landed: str | None = None
    version: int | None = None  # the number that landed
    renumbered: tuple[int, int] | None = None  # (first number, number now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.write.branch,
            "commit": self.write.commit,
            "pull_request": self.url,
            "auto_merge": self.auto_merge,
            "merged": self.landed is not None,
            "landed": self.landed,
            "renumbered_from": self.renumbered[0] if self.renumbered else None,
            "notes": list(self.notes),
        }


def share(
    reg: W,
    op: Callable[[W], T],
    *,
    remote: str = "origin",
    env: Mapping[str, str] | None = None,
) -> tuple[T, Shared | None]:
    """Run ``op`` on the remote tip, push it to a branch of its own, open its pull
    request; None when the write changed nothing."""
    # the forge client loads only when a pull request is opened
    from gitreg.promotion import forge  # noqa: PLC0415

    env = os.environ if env is None else env
    result, w = branches.write_on_branch(reg, op, remote=remote)
    if w is None:
        return result, None
    cfg = reg.config
    target = forge.find_target(cfg.remote, reg.git.remote_url(remote), env)
    if target is None:
        note = f"open a pull request from {w.branch} into {cfg.default_branch}"
        return result, Shared(write=w, notes=(note,))
    notes: list[str] = []
    try:
        pr = forge.open_pull_request(target, w.branch, cfg.default_branch, w.subject, body(w), env)
    except forge.ForgeError as e:
        notes.append(f"pull request not opened: {e}")
        return result, Shared(write=w, notes=tuple(notes))
    auto = None
    if cfg.writes.auto_merge:
        try:
            auto = forge.request_auto_merge(target, pr, w.commit, env)
        except forge.ForgeError as e:
            notes.append(f"auto-merge not requested: {e}")
    return result, Shared(
        write=w, url=pr.url, number=pr.number, auto_merge=auto, notes=tuple(notes)
    )


def wait(
    reg: Writer,
    shared: Shared,
    *,
    timeout: float = WAIT_TIMEOUT,
    interval: float = WAIT_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
) -> Shared:
    """Poll the default branch until the operation lands (bounded by ``timeout``),
    re-applying it on a new tip when it no longer applies there. Raises NotMerged."""
    deadline = time.monotonic() + timeout
    first = shared.write.version
    while True:
        r = branches.refresh(reg, shared.write)
        if r.landed is not None:
            number = branches.landed_version(reg.git, r.landed, r.write)
            renumbered = (first[1], number) if first and number and number != first[1] else None
            return replace(
                shared, write=r.write, landed=r.landed, version=number, renumbered=renumbered
            )
        if r.reapplied:
            note = f"{reg.config.default_branch} moved; re-applied on its tip"
            if r.renumbered:
                note += f": v{r.renumbered[0]} was taken, renumbered to v{r.renumbered[1]}"
            shared = replace(shared, write=r.write, notes=(*shared.notes, note))
        if time.monotonic() >= deadline:
            where = shared.url or f"the branch {shared.write.branch}"
            raise NotMerged(
                f"{where} has not merged after {timeout:g} s; it stays open (run the command "
                "with --wait again, or merge it on the forge)"
            )
        sleep(interval)


def body(w: BranchWrite) -> str:
    """The pull request's Markdown for one write."""
    return (
        f"`{w.subject}`\n\n"
        "One registry write, sent as a pull request because `gitreg.yaml` has "
        "`writes: {via: pull_request}`. CI runs `gitreg check --base`; with auto-merge on, "
        "it merges when the required checks pass.\n\n"
        f"Operation id `{w.op_id}` (the commit's `Gitreg-Op` trailer).\n"
    )
