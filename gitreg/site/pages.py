"""The three page kinds (index, model, version) as HTML strings, from one ``ModelData``
per model (its manifests and history, read once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from gitreg.layout import folder
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.site.chart import metric_chart
from gitreg.site.html import Links, badge, esc, fmt_number, href, markdown, page, table
from gitreg.trail.changes import VERSION_CREATED, VERSION_DELETED, VERSION_STAGE, Change

PRODUCTION = "production"
_NO_DESC = "<p class=muted>No description.</p>"


@dataclass
class ModelData:
    """One model as the pages need it."""

    model: RegisteredModel
    versions: list[ModelVersion]
    changes: list[Change]
    aliases: dict[int, list[str]] = field(default_factory=dict)
    held: dict[int, str] = field(default_factory=dict)  # version -> when it held Production
    by_version: dict[int, list[Change]] = field(default_factory=dict)
    _stages: dict[str, list[ModelVersion]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for alias, v in sorted(self.model.aliases.items()):
            self.aliases.setdefault(v, []).append(alias)
        for c in self.changes:
            if c.version is not None:
                self.by_version.setdefault(c.version, []).append(c)
        self.held = production_periods(self.changes, self.versions)

    @property
    def name(self) -> str:
        return self.model.name

    def in_stage(self, stage: str) -> list[ModelVersion]:
        if not self._stages:
            for mv in self.versions:
                self._stages.setdefault(mv.stage.lower(), []).append(mv)
        return self._stages.get(stage.lower(), [])


def production_periods(
    changes: Sequence[Change], versions: Sequence[ModelVersion]
) -> dict[int, str]:
    """version -> "FROM → TO; ..." for every version that ever held Production."""
    start: dict[int, str] = {}
    spans: dict[int, list[str]] = {}
    for c in changes:
        if c.version is None:
            continue
        to = str(c.data.get("to_stage" if c.type == VERSION_STAGE else "stage", "")).lower()
        frm = str(c.data.get("from_stage", "")).lower() if c.type == VERSION_STAGE else ""
        if c.type in (VERSION_CREATED, VERSION_STAGE) and to == PRODUCTION:
            start[c.version] = _day(c.timestamp)
        elif c.version in start and (
            (c.type == VERSION_STAGE and frm == PRODUCTION) or c.type == VERSION_DELETED
        ):
            spans.setdefault(c.version, []).append(f"{start.pop(c.version)} → {_day(c.timestamp)}")
    for mv in versions:
        if mv.stage.lower() == PRODUCTION:
            spans.setdefault(mv.version, []).append(f"{start.pop(mv.version, '?')} → now")
    return {v: "Production " + "; ".join(s) for v, s in spans.items()}


def _day(ts: str) -> str:
    return ts[:10]


def _when(ts: str) -> str:
    return ts[:16].replace("T", " ")


def first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()
    return ""


def _version_links(name: str, mvs: Sequence[ModelVersion], prefix: str) -> str:
    return ", ".join(
        f'<a href="{href(f"{prefix}{folder(name)}/v{mv.version}.html")}">v{mv.version}</a>'
        for mv in mvs
    )


def _alias_list(model: RegisteredModel) -> str:
    return ", ".join(
        f"<code>@{esc(a)}</code>&nbsp;→&nbsp;v{v}" for a, v in sorted(model.aliases.items())
    )


def _tags(tags: dict[str, str]) -> str:
    return " ".join(f'<span class="tag">{esc(k)}={esc(v)}</span>' for k, v in sorted(tags.items()))


# --- index ----------------------------------------------------------------------------------


def index_page(models: Sequence[ModelData], head: str | None, links: Links) -> str:
    rows = []
    for d in models:
        m = d.model
        team = m.tags.get("team") or m.tags.get("owner") or ""
        last = d.changes[-1] if d.changes else None
        last_html = (
            f'<span class="muted">{esc(_when(last.timestamp))}</span> {esc(last.text)}'
            if last
            else ""
        )
        search = " ".join([m.name, first_line(m.description), team, *m.aliases])
        rows.append(
            f'<tr data-model="{esc(m.name)}" data-search="{esc(search)}">'
            f'<td><a href="{href(f"models/{folder(m.name)}/index.html")}">{esc(m.name)}</a></td>'
            f"<td>{esc(first_line(m.description))}</td>"
            f"<td>{_version_links(m.name, d.in_stage('Production'), 'models/')}</td>"
            f"<td>{_version_links(m.name, d.in_stage('Staging'), 'models/')}</td>"
            f"<td>{_alias_list(m)}</td>"
            f"<td>{last_html}</td>"
            f"<td>{f'<span class=tag>{esc(team)}</span>' if team else ''}</td></tr>"
        )
    built = f" Built from commit {links.commit_link(head)}." if head else ""
    body = (
        f"<h1>Registered models</h1>\n<p class=muted>{len(models)} models, "
        f"{sum(len(d.versions) for d in models)} versions.{built}</p>\n"
        '<input id="filter" type="search" placeholder="Filter models…" '
        'aria-label="Filter models" autocomplete="off">\n'
        + table(
            ["Model", "Description", "Production", "Staging", "Aliases", "Last change", "Team"],
            rows,
            ' class="filterable" id="models"',
        )
    )
    return page("gitreg: registered models", "", [("Models", None)], body)


# --- model ----------------------------------------------------------------------------------


def model_page(d: ModelData, links: Links) -> str:
    m = d.model
    metrics = sorted({k for mv in d.versions for k in mv.metrics})
    rows = []
    for mv in reversed(d.versions):
        cells = "".join(
            f"<td>{esc(fmt_number(mv.metrics[k])) if k in mv.metrics else ''}</td>" for k in metrics
        )
        rows.append(
            f'<tr data-version="{mv.version}">'
            f'<td><a href="v{mv.version}.html">v{mv.version}</a></td>'
            f"<td>{badge(mv.stage)}</td>"
            f"<td>{' '.join(f'<code>@{esc(a)}</code>' for a in d.aliases.get(mv.version, []))}</td>"
            f"{cells}<td>{esc(_when(mv.created_at))}</td><td>{esc(mv.created_by)}</td></tr>"
        )
    prod = d.in_stage("Production")
    current = prod[-1].version if prod else None
    charts = "".join(
        metric_chart(
            k,
            [(mv.version, mv.metrics[k]) for mv in d.versions if k in mv.metrics],
            d.held,
            current,
        )
        for k in metrics
    )
    body = (
        f"<h1>{esc(m.name)}</h1>\n<p>{_tags(m.tags)}</p>\n"
        f'<div class="desc">{markdown(m.description) or _NO_DESC}</div>\n'
        f"<h2>Aliases</h2>\n<p>{_alias_list(m) or '<span class=muted>none</span>'}</p>\n"
        f"<h2>Versions</h2>\n"
        + table(["Version", "Stage", "Aliases", *metrics, "Created", "By"], rows, ' id="versions"')
        + (f"\n<h2>Metrics</h2>\n{charts}" if charts else "")
        + "\n<h2>History</h2>\n"
        + history_table(list(reversed(d.changes)), links, "")
    )
    return page(
        f"{m.name} · gitreg", "../../", [("Models", "../../index.html"), (m.name, None)], body
    )


def history_fields(c: Change) -> tuple[object, ...]:
    """What ``history_table`` shows of a change (all a page's cache key needs of it)."""
    return (c.timestamp, c.version, c.text, c.author, c.commit, c.pull_request)


def history_table(changes: Sequence[Change], links: Links, version_prefix: str) -> str:
    rows = []
    for c in changes:
        ver = f'<a href="{version_prefix}v{c.version}.html">v{c.version}</a>' if c.version else ""
        rows.append(
            f"<tr><td>{esc(_when(c.timestamp))}</td><td>{ver}</td><td>{esc(c.text)}</td>"
            f"<td>{esc(c.author)}</td><td>{links.commit_link(c.commit)}</td>"
            f"<td>{links.pull_link(c.pull_request)}</td></tr>"
        )
    if not rows:
        return "<p class=muted>No committed changes.</p>"
    return table(
        ["When", "Version", "Change", "Author", "Commit", "Pull request"], rows, ' id="history"'
    )


# --- version --------------------------------------------------------------------------------


def version_uris(d: ModelData, mv: ModelVersion) -> list[str]:
    """Every ``models:/`` URI that resolves to ``mv`` now."""
    name = mv.name
    out = [f"models:/{name}/{mv.version}"]
    out += [f"models:/{name}@{a}" for a in d.aliases.get(mv.version, [])]
    if d.versions and d.versions[-1].version == mv.version:
        out.append(f"models:/{name}/latest")
    newest = d.in_stage(mv.stage)
    if newest and newest[-1].version == mv.version:
        out.append(f"models:/{name}/{mv.stage}")
    return out


class VersionInputs(NamedTuple):
    """All a version page shows besides the manifest itself: the page is a function of
    ``(mv, VersionInputs, links)`` alone, which is what lets the site skip a page whose
    inputs did not change (``site.plan``)."""

    aliases: tuple[str, ...]
    uris: tuple[str, ...]
    held: str | None  # when it held Production
    changes: tuple[Change, ...]  # newest first


def version_inputs(d: ModelData, mv: ModelVersion) -> VersionInputs:
    return VersionInputs(
        aliases=tuple(d.aliases.get(mv.version, ())),
        uris=tuple(version_uris(d, mv)),
        held=d.held.get(mv.version),
        changes=tuple(reversed(d.by_version.get(mv.version, ()))),
    )


def version_page(mv: ModelVersion, inputs: VersionInputs, links: Links) -> str:
    a = mv.artifact
    uris = inputs.uris
    uri = uris[0]
    fields = [
        ("Stage", badge(mv.stage)),
        ("Aliases", " ".join(f"<code>@{esc(x)}</code>" for x in inputs.aliases)),
        ("Created", esc(mv.created_at)),
        ("Created by", esc(mv.created_by)),
        ("Artifact URI", f"<code>{esc(a.uri)}</code>"),
        ("Digest", f"<code>{esc(a.digest)}</code>"),
        ("Size", f"{a.size:,} bytes"),
    ]
    if inputs.held is not None:
        fields.append(("Production", esc(inputs.held)))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in fields)

    def kv(title: str, items: dict[str, object]) -> str:
        if not items:
            return ""
        rows = [
            f"<tr><td>{esc(k)}</td><td>{esc(fmt_number(v))}</td></tr>"
            for k, v in sorted(items.items())
        ]
        return f"<h2>{esc(title)}</h2>\n" + table(["Key", "Value"], rows, f' id="{title.lower()}"')

    files = ""
    if a.files:
        rows = [
            f"<tr><td><code>{esc(f.path)}</code></td><td>{f.size:,}</td><td><code>{esc(f.digest)}</code></td></tr>"
            for f in a.files
        ]
        files = "<h2>Files</h2>\n" + table(["Path", "Size", "Digest"], rows, ' id="files"')
    folder = f"./{mv.name}-v{mv.version}"
    snippets = {
        "CLI": f"gitreg resolve {uri}\ngitreg download {uri} {folder}",
        "Python": (
            "from pathlib import Path\nfrom gitreg import Registry\n\n"
            'reg = Registry("path/to/registry")\n'
            f'mv = reg.download("{uri}", Path("{folder}"))'
        ),
        "MLflow": (
            "import mlflow\n\n"
            'mlflow.set_registry_uri("gitreg:///path/to/registry")\n'
            f'path = mlflow.artifacts.download_artifacts("{uri}")'
        ),
    }
    snip = "".join(
        f"<h3>{esc(k)}</h3><pre><code>{esc(v)}</code></pre>\n" for k, v in snippets.items()
    )
    body = (
        f"<h1>{esc(mv.name)} v{mv.version} {badge(mv.stage)}</h1>\n"
        + (
            f'<div class="desc">{markdown(mv.description)}</div>\n'
            if mv.description.strip()
            else ""
        )
        + f'<dl class="fields">{dl}</dl>\n'
        + '<h2>Model URIs</h2>\n<ul id="uris">'
        + "".join(f"<li><code>{esc(u)}</code></li>" for u in uris)
        + "</ul>\n"
        + kv("Metrics", dict(mv.metrics))
        + kv("Params", dict(mv.params))
        + kv("Tags", dict(mv.tags))
        + kv("Lineage", dict(mv.lineage))
        + files
        + f"<h2>Use it</h2>\n{snip}"
        + "<h2>History</h2>\n"
        + history_table(inputs.changes, links, "")
    )
    crumbs: list[tuple[str, str | None]] = [
        ("Models", "../../index.html"),
        (mv.name, "index.html"),
        (f"v{mv.version}", None),
    ]
    return page(f"{mv.name} v{mv.version} · gitreg", "../../", crumbs, body)
