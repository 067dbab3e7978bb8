"""``check --base`` on protected aliases: every move of an alias the base policy protects
(``"@alias"`` under ``promotion:``) is judged by the alias rule's gates on the version it
moves to, as the base has that version; a version the base does not have is refused."""

from __future__ import annotations

from gitreg.config import Config
from gitreg.errors import NotFound
from gitreg.layout import parse_path
from gitreg.promotion import aliases, gates
from gitreg.promotion.report import Finding, Report, Transition, doc_at
from gitreg.query.reader import Reader
from gitreg.repo.git import Git


def alias_moves(  # noqa: PLR0913 (the facts one judgement needs)
    git: Git,
    cfg: Config,
    base_view: Reader,
    report: Report,
    path: str,
    mb: str,
    head: str,
    verify: bool,
) -> None:
    """Judge every move of a protected alias in ``path`` (a model.yaml) by the base policy:
    the alias rule's gates on the version it moves to, as the base has that version."""
    where = parse_path(path)
    assert where is not None
    name = where.name
    old, new = doc_at(git, mb, path), doc_at(git, head, path)
    if new is None:
        return  # a deleted model: its versions' files are judged one by one
    before = (old.data.get("aliases") if old else None) or {}
    after = new.data.get("aliases") or {}
    former = tuple((old.data.get("former_names") if old else None) or ())
    for alias in sorted(set(before) | set(after)):
        if before.get(alias) == after.get(alias):
            continue
        rule = cfg.alias_rule(name, str(alias), former)
        if rule is None:
            continue
        was = f"@{alias}=v{before[alias]}" if alias in before else f"@{alias}=(unset)"
        number = after.get(alias)
        if not isinstance(number, int):
            report.transitions.append(
                Transition(name, before.get(alias, 0), was, f"@{alias} deleted", path)
            )
            continue
        line = new.line(["aliases", alias])
        try:
            base_view.get_version(name, number)
        except NotFound:
            report.findings.append(
                Finding(
                    path,
                    line,
                    "gate",
                    f"{name}@{alias} -> v{number}: the base has no {name} v{number}; register "
                    "it in a change of its own first",
                )
            )
            continue
        results = aliases.judge(base_view, report.base, name, str(alias), number, verify=verify)
        for r in gates.failures(results):
            report.findings.append(Finding(path, line, "gate", f"{name}@{alias} -> v{number}: {r}"))
        report.transitions.append(Transition(name, number, was, f"@{alias}", path, results))
