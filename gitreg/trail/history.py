"""history: every change to one model, oldest first, read from git with one ``git log``
over the model's folder and one ``cat-file`` process for the files; a model that was
renamed is followed back to its old name(s)."""

from __future__ import annotations

from collections.abc import MutableMapping

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
_FEW = 16  # commits new to a memo that are diffed one by one rather than in one log walk


def history(  # noqa: PLR0913 (the filters history --help documents)
    git: Git,
    tip: str,
    name: str,
    version: int | str | None = None,
    stage: str | None = None,
    since: str | None = None,
    *,
    memo: MutableMapping[str, list[Change]] | None = None,
) -> list[Change]:
    """Every change to model ``name`` on the first-parent line up to commit ``tip``.

    ``version`` keeps the changes to that version (and aliases pointing at or away from
    it); ``stage`` keeps registrations into and transitions in or out of that stage;
    ``since`` (a date, start of day UTC, or an RFC 3339 time) drops older changes.
    ``memo`` keeps each commit's changes to the model, keyed ``"<commit> <name>"``: a
    commit never changes, so its files are read and diffed only the first time."""
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
        hop, parents = _hop(git, revs, current, {} if memo is None else memo)
        for c in hop:
            parent = parents[c.commit]
            if c.type == MODEL_RENAMED and parent is not None:
                todo.append((c.data["previous_name"], parent))
        found = hop + found
    if not found and not after:
        raise NotFound(f"no model named {name!r} was ever registered")
    return [c for c in found if _wanted(c, number, stage, after)]


def _hop(
    git: Git, revs: list[str], current: str, known: MutableMapping[str, list[Change]]
) -> tuple[list[Change], dict[str, str | None]]:
    """The changes to ``current`` in the commits of ``revs`` (oldest first), each commit's
    read from ``known`` or diffed and kept there; and each commit's first parent."""
    spec = [f"{model_dir(current)}/"]
    entries = read_log(git, revs, spec, diffs=not known)
    new = [e for e in entries if f"{e.sha} {current}" not in known]
    if known and len(new) > _FEW:
        entries = read_log(git, revs, spec)  # one walk beats a diff per commit
        new = [e for e in entries if f"{e.sha} {current}" not in known]
    elif known:
        for e in new:
            e.paths = diff(git, e.parent, e.sha, spec)
    for e in new:
        created = e.paths.get(model_path(current))
        if created is not None and created.old == NULL_SHA:  # a rename?
            e.paths = _rename_paths(diff(git, e.parent, e.sha, [f"{MODELS}/"]), current)
    made: dict[str, list[Change]] = {e.sha: [] for e in new}
    for c in to_changes(git, new) if new else []:
        if c.name == current:
            made[c.commit].append(c)
    for sha, changes in made.items():
        known[f"{sha} {current}"] = changes
    hop = [c for e in reversed(entries) for c in known[f"{e.sha} {current}"]]
    return hop, {e.sha: e.parent for e in entries}


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
