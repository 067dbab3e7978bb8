"""history: every change to one model, oldest first, read from git with one ``git log``
over the model's folder and one ``cat-file`` process for the files; a model that was
renamed is followed back to its old name(s)."""

from __future__ import annotations

from gitreg import dates
from gitreg.errors import NotFound
from gitreg.layout import (
    MODELS,
    NULL_SHA,
    check_model_name,
    folder,
    model_dir,
    model_path,
    version_number,
)
from gitreg.repo.git import Git
from gitreg.repo.log import RawChange, diff, ensure_commit_graph, read_log
from gitreg.trail.changelog import rfc3339, to_changes
from gitreg.trail.changes import (
    ALIAS_CREATED,
    ALIAS_DELETED,
    MODEL_RENAMED,
    VERSION_CREATED,
    Change,
)
from gitreg.trail.changes import VERSION_STAGE as STAGE

_MAX_HOPS = 32  # renames followed; a loop of renames ends here


def history(  # noqa: PLR0913 (the filters history --help documents)
    git: Git,
    tip: str,
    name: str,
    version: int | str | None = None,
    stage: str | None = None,
    since: str | None = None,
) -> list[Change]:
    """Every change to model ``name`` on the first-parent line up to commit ``tip``.

    ``version`` keeps the changes to that version (and aliases pointing at or away from
    it); ``stage`` keeps registrations into and transitions in or out of that stage;
    ``since`` (a date, start of day UTC, or an RFC 3339 time) drops older changes."""
    check_model_name(name)
    number = version_number(version) if version is not None else None
    after = since_time(since) if since else None
    ensure_commit_graph(git)
    found: list[Change] = []
    todo, hops = [(name, tip)], 0
    while todo and hops < _MAX_HOPS:
        current, rev = todo.pop()
        hops += 1
        revs = [f"--since={after}", rev] if after else [rev]
        entries = read_log(git, revs, [f"{model_dir(current)}/"])
        parents = {e.sha: e.parent for e in entries}
        for e in entries:
            created = e.paths.get(model_path(current))
            if created is not None and created.old == NULL_SHA:  # a rename?
                e.paths = _rename_paths(diff(git, e.parent, e.sha, [f"{MODELS}/"]), current)
        hop = [c for c in to_changes(git, entries) if c.name == current]
        for c in hop:
            parent = parents[c.commit]
            if c.type == MODEL_RENAMED and parent is not None:
                todo.append((c.data["previous_name"], parent))
        found = hop + found
    if not found and not after:
        raise NotFound(f"no model named {name!r} was ever registered")
    return [c for c in found if _wanted(c, number, stage, after)]


def _rename_paths(paths: dict[str, RawChange], name: str) -> dict[str, RawChange]:
    """The paths a rename of ``name`` could involve: its own, and those of models whose
    model.yaml vanished in the commit (one commit that adds 10,000 manifests of other
    models must not cost 10,000 parses per model)."""
    gone = {
        p.split("/")[1] for p, c in paths.items() if p.endswith("/model.yaml") and c.new == NULL_SHA
    }
    keep = gone | {folder(name)}  # folders, as the paths spell them
    return {p: pair for p, pair in paths.items() if p.split("/")[1] in keep}


def since_time(text: str) -> str:
    """``--since`` as RFC 3339 UTC: a date alone means the start of that day."""
    when = dates.parse(text, end_of_day=False)
    return rfc3339(int(when.timestamp()))


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
