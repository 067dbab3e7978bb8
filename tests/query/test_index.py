"""The query index (gitreg/index.py): every answer it gives equals a fresh parse of the
files, whatever happened to the files or to the index since it was written."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import git

from gitreg.errors import ManifestError
from gitreg.layout import version_path
from gitreg.manifest import ModelVersion
from gitreg.query import index, parsing
from gitreg.registry import Registry, RegistryView

DB = Path(".git/gitreg") / index.FILE


def scan(view: RegistryView) -> list[ModelVersion]:
    """Every version, read file by file without the index."""
    return [mv for n in view.model_names() for mv in view._scan_versions(n)]


def indexed(view: RegistryView) -> list[ModelVersion]:
    return [mv for _, versions in view.catalog() for mv in versions]


@pytest.fixture
def filled(reg: Registry, artifact: Path) -> Registry:
    for name in ("a", "b", "c"):
        for i in range(3):
            reg.register(name, artifact, metrics={"auc": 0.5 + i / 10})
    reg.set_alias("a", "champion", 2)
    return reg


def test_the_index_answers_as_a_fresh_parse_does_and_is_kept_in_git_dir(filled: Registry) -> None:
    assert indexed(filled) == scan(filled)
    assert (filled.root / DB).is_file()
    assert git(filled.root, "status", "--porcelain") == ""
    view = RegistryView(filled.root)  # a second process would start like this
    assert indexed(view) == scan(view)
    assert [m.name for m in view.list_models()] == ["a", "b", "c"]


def test_a_hand_edit_in_place_is_seen_even_when_the_stat_cache_is_trusted(
    filled: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "RACY_NS", 0)  # trust every signature at once
    indexed(filled)
    path = filled.root / version_path("b", 2)
    st = os.stat(path)
    text = path.read_text().replace("stage: None", "stage: Nope")  # same size
    with open(path, "r+") as f:  # in place: same inode, same size
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even the mtime put back
    assert [mv.stage for mv in filled.versions("b")] == ["None", "Nope", "None"]
    assert indexed(filled) == scan(filled)


def test_added_and_removed_files_are_seen(filled: Registry) -> None:
    indexed(filled)
    src = filled.root / version_path("c", 3)
    text = src.read_text().replace("version: 3", "version: 7")
    (filled.root / version_path("c", 7)).write_text(text)
    (filled.root / version_path("a", 1)).unlink()
    numbers = {n: [mv.version for mv in vs] for (m, vs) in filled.catalog() for n in [m.name]}
    assert numbers == {"a": [2, 3], "b": [1, 2, 3], "c": [1, 2, 3, 7]}
    assert indexed(filled) == scan(filled)


def test_a_corrupt_or_deleted_index_is_rebuilt_and_answers_stay_right(filled: Registry) -> None:
    want = indexed(filled)
    db = filled.root / DB
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    assert indexed(RegistryView(filled.root)) == want
    sqlite3.connect(db).execute("SELECT count(*) FROM blobs").fetchone()  # usable again
    db.unlink()
    assert indexed(RegistryView(filled.root)) == want


def test_an_index_with_wrong_records_is_never_believed_over_the_blob_ids(
    filled: Registry,
) -> None:
    indexed(filled)
    db = sqlite3.connect(filled.root / DB)
    with db:  # point every path at a blob id no file has
        db.execute("UPDATE files SET oid = '0000000000000000000000000000000000000000'")
    assert indexed(RegistryView(filled.root)) == scan(filled)


def test_a_broken_file_is_reported_with_its_line_and_never_cached(filled: Registry) -> None:
    path = filled.root / version_path("b", 1)
    good = path.read_bytes()
    path.write_text(good.decode() + "stage: Production\n")  # a duplicate key
    with pytest.raises(ManifestError, match=r"versions/1\.yaml:\d+: .*duplicate"):
        filled.search_versions("")
    path.write_bytes(good)
    assert indexed(filled) == scan(filled)


def test_a_symbolic_link_is_refused_not_followed(filled: Registry, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text((filled.root / version_path("a", 1)).read_text())
    (filled.root / version_path("a", 9)).symlink_to(secret)
    with pytest.raises(ManifestError, match="symbolic link"):
        filled.search_versions("")


def test_views_of_past_commits_use_the_index_and_match_a_fresh_parse(filled: Registry) -> None:
    first = git(filled.root, "rev-parse", "HEAD~3").strip()
    filled.transition("c", 3, "Staging")
    for ref in (first, "HEAD"):
        view = filled.at(ref)
        assert indexed(view) == scan(view)
        assert view.search_versions("name = 'c'") == view._scan_versions("c")[::-1]


def test_a_checkout_of_another_commit_changes_every_answer(filled: Registry) -> None:
    before = indexed(filled)
    filled.transition("a", 1, "Staging")
    assert indexed(filled) != before
    git(filled.root, "checkout", "-q", "HEAD~1")
    assert indexed(RegistryView(filled.root)) == before


def test_many_new_files_are_parsed_on_every_core(
    filled: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parsing, "_PARALLEL_ABOVE", 2)
    assert indexed(RegistryView(filled.root)) == scan(filled)
    bad = filled.root / version_path("c", 2)
    bad.write_text("name: [unclosed\n")
    index._remove(filled.root / DB)
    with pytest.raises(ManifestError, match=r"c/versions/2\.yaml"):
        indexed(RegistryView(filled.root))


@pytest.mark.parametrize("at_commit", [False, True])
def test_a_version_file_under_another_number_is_refused_not_listed_twice(
    filled: Registry, at_commit: bool
) -> None:
    indexed(filled)  # the stat cache and the records exist first
    copy = filled.root / version_path("a", 9)
    copy.write_bytes((filled.root / version_path("a", 2)).read_bytes())  # says version 2
    view: RegistryView = filled
    if at_commit:
        git(filled.root, "add", "-A")
        git(filled.root, "commit", "-qm", "copy")
        view = filled.at("HEAD")
    with pytest.raises(ManifestError, match=r"a/versions/9\.yaml.*match the path"):
        view.search_versions("")


def test_stage_heads_are_the_newest_version_per_stage_of_the_full_catalog(
    filled: Registry,
) -> None:
    filled.transition("a", 1, "Staging")
    filled.transition("a", 3, "Staging")
    filled.transition("b", 2, "Archived")
    from gitreg.query.reader import newest_per_stage

    full = [(m, [(v.version, v.stage) for v in newest_per_stage(vs)]) for m, vs in filled.catalog()]
    heads = [(m, [(h.version, h.stage) for h in hs]) for m, hs in filled.stage_heads()]
    assert heads == full
    assert heads[0][1] == [(2, "None"), (3, "Staging")]


def test_a_first_build_makes_its_lookups_after_the_rows(
    filled: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "_BULK", 2)  # what a clone of 100,000 versions does
    index._remove(filled.root / DB)
    assert indexed(RegistryView(filled.root)) == scan(filled)
    db = sqlite3.connect(filled.root / DB)
    made = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert set(index._INDEXES) <= made
    every = [mv.metrics["auc"] for _, vs in filled.catalog() for mv in vs]
    top = filled.search_versions("metrics.auc > 0", ["metrics.auc DESC"], 2)
    assert [mv.metrics["auc"] for mv in top] == sorted(every, reverse=True)[:2]
