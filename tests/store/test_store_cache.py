"""gitreg.store's download cache on memory:// (fast; S3 is covered end to end elsewhere)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner

from gitreg import store
from gitreg.cli import cli
from gitreg.errors import ArtifactError, UsageError
from gitreg.manifest import ArtifactRef
from gitreg.store import cache_admin


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITREG_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.cache_dir() == tmp_path / "xdg" / "gitreg"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.cache_dir() == tmp_path / "home" / ".cache" / "gitreg"
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "c"))
    assert store.cache_dir() == tmp_path / "c"


def test_memory_store_is_cached_and_served_without_it(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(os.urandom(3000))
    root = f"memory://gitreg-{uuid.uuid4().hex}"
    ref = store.upload(src, root, "m")
    seen: list[int] = []
    assert not store.cached_download(ref, tmp_path / "a.bin", progress=seen.append)
    assert sum(seen) == 3000, "the store's bytes are counted once"
    fsspec.filesystem("memory").rm(root.removeprefix("memory://"), recursive=True)
    assert store.cached_download(ref, tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == src.read_bytes()
    assert store.cache_entry(ref) == cache / "sha256" / ref.digest[7:] / "file"
    assert not (cache / "tmp").exists() or not any((cache / "tmp").iterdir())


def test_file_stores_are_cached_and_served_with_the_folder_gone(
    tmp_path: Path, cache: Path
) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(b"local")
    (tmp_path / "store").mkdir()
    ref = store.upload(src, (tmp_path / "store").as_uri(), "m")
    assert not store.cached_download(ref, tmp_path / "out.bin")
    assert store.cache_entry(ref).read_bytes() == b"local"
    (tmp_path / "store").rename(tmp_path / "moved")  # the shared disk went away
    assert store.cached_download(ref, tmp_path / "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == b"local"


def test_a_hostile_digest_never_becomes_a_path(tmp_path: Path, cache: Path) -> None:
    ref = store.describe_local(Path(__file__))
    bad = replace(ref, uri="memory://x/y", digest="sha256:../../../etc")
    with pytest.raises(ArtifactError, match="unsupported digest"):
        store.cached_download(bad, tmp_path / "out")
    assert not cache.exists()


def _stored(tmp_path: Path, data: bytes, name: str = "m") -> ArtifactRef:
    src = tmp_path / f"{name}.src"
    src.write_bytes(data)
    (tmp_path / "store").mkdir(exist_ok=True)
    return store.upload(src, (tmp_path / "store").as_uri(), name)


def test_a_symlinked_entry_is_dropped_and_fetched_again(tmp_path: Path, cache: Path) -> None:
    ref = _stored(tmp_path, b"weights" * 100)
    store.cached_download(ref, tmp_path / "a")
    entry = store.cache_entry(ref)
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"weights" * 100)  # the same bytes: a link is refused all the same
    entry.unlink()
    entry.symlink_to(decoy)
    assert not store.cached_download(ref, tmp_path / "b"), "the store answered"
    assert entry.is_file() and not entry.is_symlink() and decoy.exists()
    # the entry's folder itself a link to somewhere else: dropped, the target untouched
    elsewhere = tmp_path / "elsewhere"
    entry.parent.rename(elsewhere)
    entry.parent.symlink_to(elsewhere, target_is_directory=True)
    assert not store.cached_download(ref, tmp_path / "c")
    assert not entry.parent.is_symlink() and (elsewhere / "file").exists()
    assert (tmp_path / "c").read_bytes() == b"weights" * 100


def test_foreign_and_damaged_entries_are_dropped_and_fetched_again(
    tmp_path: Path, cache: Path
) -> None:
    ref = _stored(tmp_path, b"x" * 500)
    entry = store.cache_entry(ref)
    entry.mkdir(parents=True)  # a folder where a file belongs: not ours
    (entry / "junk").write_bytes(b"?")
    assert not store.cached_download(ref, tmp_path / "a")
    assert entry.read_bytes() == b"x" * 500
    entry.chmod(0o644)
    entry.write_bytes(b"y" * 500)  # same size, other bytes
    assert not store.cached_download(ref, tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"x" * 500


def test_parse_size() -> None:
    assert store.parse_size("1000") == 1000
    assert store.parse_size("2K") == 2048
    assert store.parse_size("1.5GiB") == 3 << 29
    assert store.parse_size(" 10m ") == 10 << 20
    with pytest.raises(UsageError, match=r"GITREG_CACHE_MAX='lots' is not a size"):
        store.parse_size("lots")


def test_the_cache_bound_evicts_the_least_recently_used_first(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = (_stored(tmp_path, bytes([i]) * 1000, f"m{i}") for i in range(3))
    store.cached_download(a, tmp_path / "a1")
    store.cached_download(b, tmp_path / "b1")
    os.utime(store.cache_entry(a).parent, (1000, 1000))  # a used before b ...
    os.utime(store.cache_entry(b).parent, (2000, 2000))
    monkeypatch.setenv("GITREG_CACHE_MAX", "2500")
    assert store.cached_download(a, tmp_path / "a2")  # ... then a again: b is the LRU now
    store.cached_download(c, tmp_path / "c1")
    assert sorted(e.digest for e in cache_admin.entries()) == sorted([a.digest, c.digest])
    assert sum(e.size for e in cache_admin.entries()) == 2000
    monkeypatch.setenv("GITREG_CACHE_MAX", "500")  # smaller than one entry: served, then gone
    assert not store.cached_download(b, tmp_path / "b2")
    assert (tmp_path / "b2").read_bytes() == bytes([1]) * 1000 and cache_admin.entries() == []


def test_cache_ls_and_prune(tmp_path: Path, cache: Path) -> None:
    a, b = (_stored(tmp_path, bytes([i]) * 1000, f"m{i}") for i in range(2))
    store.cached_download(a, tmp_path / "a")
    store.cached_download(b, tmp_path / "b")
    os.utime(store.cache_entry(a).parent, (1000, 1000))
    (cache / "sha256" / "not-a-digest").mkdir()
    keep = cache / "mine.txt"  # outside sha256/ and tmp/: never the cache's to remove
    keep.write_text("user file")
    listed = json.loads(CliRunner().invoke(cli, ["cache", "ls", "--json"]).output)
    problems = {e["digest"]: e["problem"] for e in listed["entries"]}
    assert problems == {a.digest: "", b.digest: "", "sha256:not-a-digest": "not a sha256 digest"}
    assert listed["total"] == 2000
    out = CliRunner().invoke(cli, ["cache", "prune", "--max", "1500"])
    assert out.exit_code == 0, out.output
    assert "not a sha256 digest" in out.output and a.digest in out.output
    assert [e.digest for e in cache_admin.entries()] == [b.digest] and keep.exists()
    bad = CliRunner().invoke(cli, ["cache", "prune", "--max", "huge"])
    assert bad.exit_code == 2 and bad.output == (
        "gitreg: error: --max='huge' is not a size: use bytes or a number with K, M, G or T\n"
    )
    assert CliRunner().invoke(cli, ["cache", "prune", "--all"]).exit_code == 0
    assert cache_admin.entries() == [] and keep.exists()


def test_fresh_copy_caches_file_stores_and_serves_without_them(tmp_path: Path, cache: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "store").mkdir()
    ref = store.upload(model, (tmp_path / "store").as_uri(), "m")
    first = store.fresh_copy(ref)
    assert first.name == "model" and (first / "MLmodel").read_text() == "flavors: {}\n"
    assert first.parent.parent == cache / "loads", "copies live in the cache, not in /tmp"
    (first / "registered_model_meta").write_text("model_name: m\n")  # the reader's own copy
    (tmp_path / "store").rename(tmp_path / "gone")
    second = store.fresh_copy(ref)
    assert second != first and sorted(p.name for p in second.iterdir()) == ["MLmodel"]
    assert store.cache_entry(ref).is_dir()
