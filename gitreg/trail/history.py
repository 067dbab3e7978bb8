"""history: every change to one model, oldest first, read from git with one ``git log``
over the model's folder and one ``cat-file`` process for the files; a model that was
renamed is followed back to its old name(s)."""

from __future__ import annotations

import os

from gitreg import dates
from gitreg.errors import NotFound, UsageError
from gitreg.manifest import check_name
from gitreg.registry.view import RegistryView, model_dir, model_path
from gitreg.repo.tree import CommitTree
from gitreg.trail.changelog import changed_files, ensure_commit_graph, read_log, rfc3339, to_changes
from gitreg.trail.changes import (
    ALIAS_CREATED,
    ALIAS_DELETED,
    MODEL_RENAMED,
    VERSION_CREATED,
    Change,
)
from gitreg.trail.changes import VERSION_STAGE as STAGE

_MAX_HOPS = 32  # renames followed; a loop of renames ends here
_NULL = "0" * 40


def history(
    root_or_view: str | os.PathLike[str] | RegistryView,
    name: str,
    version: int | str | None = None,
    stage: str | None = None,
    since: str | None = None,
) -> list[Change]:
    """Every change to model ``name`` up to the view's commit (HEAD for the work tree).

    ``version`` keeps the changes to that version (and aliases pointing at or away from
    it); ``stage`` keeps registrations into and transitions in or out of that stage;
    ``since`` (a date, start of day UTC, or an RFC 3339 time) drops older changes."""
    view = root_or_view if isinstance(root_or_view, RegistryView) else RegistryView(root_or_view)
    check_name(name)
    number = _version(version) if version is not None else None
    tip = view.tree.sha if isinstance(view.tree, CommitTree) else "HEAD"
    after = since_time(since) if since else None
    git = view.git
    ensure_commit_graph(git)
    found: list[Change] = []
    todo, hops = [(name, tip)], 0
    while todo and hops < _MAX_HOPS:
        current, rev = todo.pop()
        hops += 1
        revs = [f"--since={after}", rev] if after else [rev]
        records = read_log(git, revs, [f"{model_dir(current)}/"])
        parents = {r.sha: (r.parents[0] if r.parents else None) for r in records}
        for rec in records:
            if rec.paths.get(model_path(current), ("", ""))[0] == _NULL:
                rec.paths = _rename_paths(
                    changed_files(git, rec.sha, parents[rec.sha]), current
                )  # a rename?
        hop = [c for c in to_changes(git, records) if c.name == current]
        for c in hop:
            parent = parents[c.commit]
            if c.type == MODEL_RENAMED and parent is not None:
                todo.append((c.data["previous_name"], parent))
        found = hop + found
    if not found and not after:
        raise NotFound(f"no model named {name!r} was ever registered")
    return [c for c in found if _wanted(c, number, stage, after)]


def _rename_paths(paths: dict[str, tuple[str, str]], name: str) -> dict[str, tuple[str, str]]:
    """The paths a rename of ``name`` could involve: its own, and those of models whose
    model.yaml vanished in the commit (one commit that adds 10,000 manifests of other
    models must not cost 10,000 parses per model)."""
    gone = {
        p.split("/")[1]
        for p, (_, new) in paths.items()
        if p.endswith("/model.yaml") and new == _NULL
    }
    keep = gone | {name}
    return {p: pair for p, pair in paths.items() if p.split("/")[1] in keep}


def since_time(text: str) -> str:
    """``--since`` as RFC 3339 UTC: a date alone means the start of that day."""
    when = dates.parse(text, end_of_day=False)
    return rfc3339(int(when.timestamp()))


def _version(version: int | str) -> int:
    text = str(version).lstrip("v")
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise UsageError(f"invalid version {version!r}: versions are whole numbers from 1")
    return int(text)


def _wanted(c: Change, number: int | None, stage: str | None, after: str | None) -> bool:
    if after is not None and c.timestamp < after:
        return False
    if number is not None:
        moved_away = c.type in (ALIAS_CREATED, ALIAS_DELETED) and (
            c.data.get("previous_version") == number
        )
        if c.version != number and not moved_away:
            return False
    if stage is not None:
        s = stage.lower()
        if c.type == STAGE:
            return s in (c.data["from_stage"].lower(), c.data["to_stage"].lower())
        return c.type == VERSION_CREATED and str(c.data.get("stage", "")).lower() == s
    return True
