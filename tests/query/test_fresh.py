"""Skipping the work-tree walk (gitreg/query/fresh.py) never hides a change: once the
index is marked clean against git's index, every kind of change made after it (a hand
edit in place within the same second, a new untracked file, a deleted one, a FIFO or a
symbolic link, an edit staged with git add, an assume-unchanged entry) is seen, and the
answers equal a file-by-file read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git

from gitreg.errors import ManifestError
from gitreg.layout import model_path, version_path
from gitreg.query import fresh, index
from gitreg.registry import Registry, RegistryView

DB = Path(".git/gitreg") / index.FILE


def trusted(root: Path) -> bool:
    idx = index.open_index(root)
    assert idx is not None
    check = fresh.Check(root)
    try:
        return check.trusted(idx, root)
    finally:
        check.cancel()


def slow(root: Path) -> list[tuple[str, list[tuple[int, str, dict[str, float]]]]]:
    view = RegistryView(root)
    return [
        (n, [(v.version, v.stage, v.metrics) for v in view._scan_versions(n)])
        for n in view.model_names()
    ]


def indexed(root: Path) -> list[tuple[str, list[tuple[int, str, dict[str, float]]]]]:
    view = RegistryView(root)
    return [(m.name, [(v.version, v.stage, v.metrics) for v in vs]) for m, vs in view.catalog()]


def heads(root: Path) -> list[tuple[str, list[tuple[int, str]]]]:
    view = RegistryView(root)
    return [(m.name, [(h.version, h.stage) for h in hs]) for m, hs in view.stage_heads()]


@pytest.fixture
def marked(reg: Registry, artifact: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setattr(fresh, "RACY_NS", 0)  # folders changed a moment ago are marked too
    for name in ("a", "b"):
        for i in range(3):
            reg.register(name, artifact, metrics={"auc": 0.5 + i / 10})
    reg.create_model("c")  # no versions folder yet
    assert not trusted(reg.root)
    heads(reg.root)  # walks, then marks
    assert trusted(reg.root)
    want = slow(reg.root)
    assert indexed(reg.root) == want  # answered without a walk
    assert trusted(reg.root)
    return reg


def edit_in_place(reg: Registry) -> None:
    path = reg.root / version_path("b", 2)
    st = os.stat(path)
    text = path.read_text().replace("stage: None", "stage: Nope")  # same size
    with open(path, "r+") as f:
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even the mtime put back


def add_untracked(reg: Registry) -> None:
    text = (reg.root / version_path("a", 3)).read_text()
    (reg.root / version_path("a", 8)).write_text(text.replace("version: 3", "version: 8"))


def first_version(reg: Registry) -> None:
    text = (reg.root / version_path("a", 1)).read_text().replace("name: a", "name: c")
    (reg.root / version_path("c", 1)).parent.mkdir()
    (reg.root / version_path("c", 1)).write_text(text)


def new_model(reg: Registry) -> None:
    (reg.root / "models" / "d").mkdir()
    text = (reg.root / model_path("c")).read_text().replace("name: c", "name: d")
    (reg.root / model_path("d")).write_text(text)


def versions_replaced(reg: Registry) -> None:
    """The versions folder swapped for a copy holding one more file: no tracked file
    differs, and the folder the index marked is gone."""
    folder = reg.root / "models" / "a" / "versions"
    folder.rename(folder.with_name("old"))
    folder.mkdir()
    for old in folder.with_name("old").iterdir():
        (folder / old.name).write_bytes(old.read_bytes())
    add_untracked(reg)
    os.utime(folder, ns=(0, 0))  # its mtime put back does not hide it either


def delete(reg: Registry) -> None:
    (reg.root / version_path("a", 1)).unlink()


def delete_model(reg: Registry) -> None:
    (reg.root / model_path("b")).unlink()


def stage_an_edit(reg: Registry) -> None:
    edit_in_place(reg)
    git(reg.root, "add", version_path("b", 2))


def assume_unchanged(reg: Registry) -> None:
    git(reg.root, "update-index", "--assume-unchanged", version_path("b", 2))
    edit_in_place(reg)


CHANGES: dict[str, Callable[[Registry], None]] = {
    "edited": edit_in_place,
    "untracked": add_untracked,
    "first-version": first_version,
    "new-model": new_model,
    "versions-replaced": versions_replaced,
    "deleted": delete,
    "model-deleted": delete_model,
    "staged": stage_an_edit,
    "assume-unchanged": assume_unchanged,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_change_after_the_mark_is_seen(marked: Registry, change: str) -> None:
    CHANGES[change](marked)
    assert not trusted(marked.root)
    want = slow(marked.root)
    newest = [(n, sorted({s: v for v, s, _ in sorted(vs)}.items())) for n, vs in want]
    assert heads(marked.root) == [(n, sorted((v, s) for s, v in ns)) for n, ns in newest]
    assert indexed(marked.root) == want
    assert indexed(marked.root) == want
    (marked.root / DB).unlink()
    assert indexed(marked.root) == want


def test_a_clean_tree_is_marked_again_after_a_commit(marked: Registry, artifact: Path) -> None:
    marked.register("a", artifact)
    assert not trusted(marked.root)  # git's index changed
    assert heads(marked.root)[0][1][-1][0] == 4
    assert trusted(marked.root)
    assert indexed(marked.root) == slow(marked.root)


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_fifo_or_symlink_after_the_mark_is_refused_with_its_path(
    marked: Registry, kind: str
) -> None:
    path = marked.root / version_path("a", 9)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(marked.root / version_path("a", 1), path)
    assert not trusted(marked.root)
    with pytest.raises(ManifestError, match=r"a/versions/9\.yaml"):
        heads(marked.root)


def test_a_fifo_replacing_a_tracked_file_is_refused(marked: Registry) -> None:
    path = marked.root / version_path("a", 2)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(ManifestError, match=r"a/versions/2\.yaml.*FIFO"):
        indexed(marked.root)


def test_an_untracked_file_keeps_the_index_unmarked(marked: Registry) -> None:
    add_untracked(marked)
    heads(marked.root)
    assert not trusted(marked.root)  # the tree is not what git's index says
    (marked.root / version_path("a", 8)).unlink()
    heads(marked.root)
    assert trusted(marked.root)
