"""``download --force``: an existing destination is replaced, and only once the new bytes
verified; bytes that fail leave the old destination as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner, Result

from gitreg import store
from gitreg.cli import cli
from gitreg.errors import AlreadyExists, DigestMismatch


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reg"
    assert CliRunner().invoke(cli, ["init", str(path)]).exit_code == 0
    monkeypatch.setenv("GITREG_REPO", str(path))
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def register(tmp_path: Path, data: bytes, name: str = "model.bin") -> None:
    src = tmp_path / "src" / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    result = run("register", "m", str(src))
    assert result.exit_code == 0, result.output


def stored_file(repo: Path) -> Path:
    [path] = [p for p in (repo.parent / "registry-artifacts").rglob("*") if p.is_file()]
    return path


def test_an_existing_destination_is_refused_with_the_way_round(repo: Path, tmp_path: Path) -> None:
    register(tmp_path, b"new weights")
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"old weights")
    result = run("download", "models:/m/1", str(dest))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr == (
        f"gitreg: error: {dest} already exists; gitreg does not overwrite it "
        "(--force replaces it)\n"
    )
    result = run("download", "models:/m/1", str(dest), "--force")
    assert result.exit_code == 0, result.output
    assert dest.read_bytes() == b"new weights"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_force_keeps_the_old_file_when_the_new_bytes_do_not_verify(
    repo: Path, tmp_path: Path
) -> None:
    register(tmp_path, b"registered weights")
    changed = stored_file(repo)
    changed.chmod(0o644)
    changed.write_bytes(b"REGISTERED WEIGHTS")  # same size, other bytes
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"the model serving uses")
    result = run("download", "models:/m/1", str(dest), "--force")
    assert result.exit_code == 1 and "does not match its manifest" in result.stderr
    assert dest.read_bytes() == b"the model serving uses"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".model")] == []


def test_force_replaces_a_folder_with_a_folder_and_refuses_mixed_kinds(
    repo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(100))
    (folder / "config.json").write_text("{}")
    assert run("register", "m", str(folder)).exit_code == 0
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "stale.txt").write_text("from an older version")
    result = run("download", "models:/m/1", str(dest), "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "weights.bin"]
    assert not [p for p in tmp_path.iterdir() if ".gitreg-" in p.name]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = run("download", "models:/m/1", str(a_file), "--force")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is not a folder; --force replaces a folder only with a folder" in result.stderr
    assert a_file.read_text() == "x"


def test_force_through_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A remote artifact goes through the cache: the hit and the miss both replace."""
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "m.bin"
    src.write_bytes(os.urandom(2000))
    ref = store.upload(src, f"memory://gitreg-{uuid.uuid4().hex}", "m")
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    with pytest.raises(AlreadyExists):
        store.cached_download(ref, dest)
    assert store.cached_download(ref, dest, replace=True), "a hit: the refusal filled it"
    assert dest.read_bytes() == src.read_bytes()
    shutil.rmtree(tmp_path / "cache")
    dest.write_bytes(b"old again")
    assert not store.cached_download(ref, dest, replace=True), "a miss"
    assert dest.read_bytes() == src.read_bytes()
    fs = fsspec.filesystem("memory")
    fs.pipe(ref.uri.removeprefix("memory://"), b"x" * 2000)
    dest.write_bytes(b"kept")
    with pytest.raises(DigestMismatch):
        store.download(ref, dest, replace=True)
    assert dest.read_bytes() == b"kept"


def test_force_as_a_real_subprocess(repo: Path, tmp_path: Path) -> None:
    register(tmp_path, b"weights v1")
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"old")
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "download", "models:/m/latest", str(dest), "--force"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GITREG_REPO": str(repo)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Downloaded m v1 to {dest} (sha256:")
    assert dest.read_bytes() == b"weights v1"
