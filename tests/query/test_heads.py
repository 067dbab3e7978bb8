"""``gitreg list`` from one SQL aggregate (gitreg/query/heads.py) answers as the full
catalog, read file by file, does: across hand edits, added, deleted and untracked files,
records under the wrong path, and indexes old, fresh or unwritable."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git

from gitreg.errors import ManifestError
from gitreg.layout import model_path, version_path
from gitreg.query import heads, index
from gitreg.query.reader import newest_per_stage
from gitreg.registry import Registry, RegistryView

DB = Path(".git/gitreg") / index.FILE
Heads = list[tuple[str, list[tuple[int, str]]]]


def slow(root: Path) -> Heads:
    """The heads from every file read one by one, without the index."""
    view = RegistryView(root)
    return [
        (n, [(v.version, v.stage) for v in newest_per_stage(view._scan_versions(n))])
        for n in view.model_names()
    ]


def fast(root: Path) -> Heads:
    view = RegistryView(root)
    assert view._sql_heads() is not None  # the SQL answered, not the fallback
    return [(m.name, [(h.version, h.stage) for h in hs]) for m, hs in view.stage_heads()]


@pytest.fixture
def filled(reg: Registry, artifact: Path) -> Registry:
    for name in ("a", "b", "c"):
        for _ in range(3):
            reg.register(name, artifact)
    reg.transition("a", 2, "Staging")
    reg.transition("b", 1, "Archived")
    fast(reg.root)  # the index exists before the work tree changes
    return reg


def edit(reg: Registry) -> None:
    path = reg.root / version_path("b", 3)
    st = os.stat(path)
    text = path.read_text().replace("stage: None", "stage: Nope")  # same size, in place
    with open(path, "r+") as f:
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def add_untracked(reg: Registry) -> None:
    text = (reg.root / version_path("c", 3)).read_text()
    text = text.replace("version: 3", "version: 12").replace("stage: None", "stage: Staging")
    (reg.root / version_path("c", 12)).write_text(text)


def delete(reg: Registry) -> None:
    (reg.root / version_path("a", 2)).unlink()


def delete_model(reg: Registry) -> None:
    (reg.root / model_path("c")).unlink()


def commit_all(reg: Registry) -> None:
    add_untracked(reg)
    delete(reg)
    git(reg.root, "add", "-A")
    git(reg.root, "commit", "-qm", "hand-made")


CHANGES: dict[str, Callable[[Registry], None]] = {
    "edited": edit,
    "untracked": add_untracked,
    "deleted": delete,
    "model-deleted": delete_model,
    "committed": commit_all,
}


@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_sql_heads_equal_a_file_by_file_read_and_a_fresh_index(
    filled: Registry, change: str, trust: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if trust:
        monkeypatch.setattr(index, "RACY_NS", 0)  # every stat signature is trusted at once
        fast(filled.root)
    CHANGES[change](filled)
    want = slow(filled.root)
    assert fast(filled.root) == want
    assert fast(filled.root) == want  # and again, from what the first answer stored
    (filled.root / DB).unlink()
    assert fast(filled.root) == want


def test_an_index_of_an_older_format_is_rebuilt_with_the_columns(filled: Registry) -> None:
    import sqlite3

    db = sqlite3.connect(filled.root / DB, isolation_level=None)
    db.executescript(
        "DROP TABLE blobs; DROP TABLE files;"
        "CREATE TABLE blobs (oid TEXT PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE files (path TEXT PRIMARY KEY, oid TEXT NOT NULL, sig TEXT NOT NULL);"
        "UPDATE meta SET value = '1 old' WHERE key = 'format';"
    )
    db.close()
    assert fast(filled.root) == slow(filled.root)


def test_a_record_under_the_wrong_path_is_refused_as_the_slow_way_refuses_it(
    filled: Registry,
) -> None:
    copy = filled.root / version_path("a", 9)
    copy.write_bytes((filled.root / version_path("a", 2)).read_bytes())  # says version 2
    view = RegistryView(filled.root)
    assert view._sql_heads() is None
    with pytest.raises(ManifestError, match=r"a/versions/9\.yaml.*match the path"):
        view.stage_heads()


def test_without_a_writable_index_the_slow_way_answers(
    filled: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_untracked(filled)
    monkeypatch.setattr(index.Index, "_save", lambda *a, **k: False)
    view = RegistryView(filled.root)
    assert heads.worktree_heads(view._index, filled.root, dict) is None  # type: ignore[arg-type]
    got = [(m.name, [(h.version, h.stage) for h in hs]) for m, hs in view.stage_heads()]
    assert got == slow(filled.root)
