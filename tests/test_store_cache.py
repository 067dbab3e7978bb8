"""gitreg.store's download cache on memory:// (fast; S3 is covered end to end elsewhere)."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

import fsspec
import pytest

from gitreg import store
from gitreg.errors import ArtifactError


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


def test_file_stores_are_not_cached(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(b"local")
    (tmp_path / "store").mkdir()
    ref = store.upload(src, (tmp_path / "store").as_uri(), "m")
    assert not store.cached_download(ref, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"local" and not cache.exists()


def test_a_hostile_digest_never_becomes_a_path(tmp_path: Path, cache: Path) -> None:
    ref = store.describe_local(Path(__file__))
    bad = replace(ref, uri="memory://x/y", digest="sha256:../../../etc")
    with pytest.raises(ArtifactError, match="unsupported digest"):
        store.cached_download(bad, tmp_path / "out")
    assert not cache.exists()


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
