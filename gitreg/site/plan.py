"""What each HTML file of the site is made from. Every file is planned as a key naming all
of its inputs and a way to make its bytes (``Planned``); ``render`` makes every file, and
``build_site`` makes only those whose key or bytes on disk changed since the last render
into the same folder (``site.state``), so one tag set among 10,000 versions re-renders a
handful of pages. The index and the API's index and model documents have no key: they are
cheap, and made every time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import NamedTuple

from gitreg.layout import folder, version_path
from gitreg.manifest import ModelVersion
from gitreg.site.html import CSS, JS, Links
from gitreg.site.pages import (
    ModelData,
    VersionInputs,
    history_fields,
    index_page,
    model_page,
    version_inputs,
    version_page,
)


class Planned(NamedTuple):
    """One file of the site: ``key`` names everything its bytes are made from (None: made
    on every render), ``make`` makes them."""

    key: bytes | None
    make: Callable[[], bytes]


def digest(*parts: object) -> bytes:
    """A key for ``parts``: their repr, which for the str, int, float, None, tuples,
    dicts and frozen dataclasses of records spells every value exactly."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()


def version_keys(models: Sequence[ModelData], blobs: Mapping[str, str]) -> dict[str, list[bytes]]:
    """Model name -> the key of each version's manifest, in version order: the git blob id
    of its file where ``blobs`` (path -> blob id) has it (a record is made from its file's
    bytes alone), else the manifest's own digest."""
    out = {}
    for d in models:
        keys = []
        for mv in d.versions:
            blob = blobs.get(version_path(d.name, mv.version))
            keys.append(bytes.fromhex(blob) if blob else digest(mv))
        out[d.name] = keys
    return out


def html_files(
    models: Sequence[ModelData],
    head: str | None,
    links: Links,
    keys: Mapping[str, Sequence[bytes]],
) -> dict[str, Planned]:
    """The HTML, CSS and JS of the site: relative path -> Planned."""
    files = {
        "style.css": Planned(None, CSS.encode),
        "filter.js": Planned(None, JS.encode),
        "index.html": Planned(None, lambda: index_page(models, head, links).encode()),
    }
    for d in models:
        base = f"models/{folder(d.name)}"  # URL-safe: only A-Z a-z 0-9 . _ - ~
        mine = keys[d.name]
        # the model page shows every field of every version and every change
        whole = digest(
            "model", d.model, mine, d.held, [history_fields(c) for c in d.changes], links
        )
        files[f"{base}/index.html"] = Planned(whole, partial(_model, d, links))
        for mv, key in zip(d.versions, mine, strict=True):
            got = version_inputs(d, mv)
            shown = (got.aliases, got.uris, got.held, [history_fields(c) for c in got.changes])
            files[f"{base}/v{mv.version}.html"] = Planned(
                digest("version", key, shown, links), partial(_version, mv, got, links)
            )
    return files


def _model(d: ModelData, links: Links) -> bytes:
    return model_page(d, links).encode()


def _version(mv: ModelVersion, inputs: VersionInputs, links: Links) -> bytes:
    return version_page(mv, inputs, links).encode()
