"""Lock files end to end: `gitreg pin`, `download --lock` with the registry and its store
gone (file:// and S3 on moto), `verify --lock`, refusals that leave nothing behind, and the
Python API serving code uses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.registry.template import init_registry
from gitreg.serving import fetch, load_lock
from gitreg.store import cache_entry

if TYPE_CHECKING:
    from s3_server import S3

pytest_plugins = ["s3_server"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry with a file store: fraud v1 (a file, @champion), v2 (a folder)."""
    init_registry(tmp_path / "reg")
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "reg"))
    r = Registry(tmp_path / "reg")
    (tmp_path / "m.bin").write_bytes(os.urandom(5000))
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "w.bin").write_bytes(os.urandom(3000))
    (tmp_path / "d" / "sub" / "cfg.json").write_bytes(b"{}\n")
    r.register("fraud", tmp_path / "m.bin")
    r.register("fraud", tmp_path / "d")
    r.set_alias("fraud", "champion", 1)
    return r


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "gitreg-tmp" in p.name)


URIS = ["models:/fraud@champion", "models:/fraud/latest"]


def test_pin_writes_a_canonical_sorted_lock(reg: Registry, tmp_path: Path) -> None:
    lock = tmp_path / "models.lock"
    out = run("pin", *reversed(URIS), "-o", str(lock))
    assert out.exit_code == 0, out.output
    assert "models:/fraud@champion: - -> fraud v1 (added)" in out.output
    first = lock.read_bytes()
    data = json.loads(first)
    head = git(reg.root, "rev-parse", "HEAD").strip()
    assert [(m["resolved_from"], m["version"]) for m in data["models"]] == [
        ("models:/fraud@champion", 1),
        ("models:/fraud/latest", 2),
    ]
    v2 = reg.get_version("fraud", 2)
    assert data["models"][1] == {
        "name": "fraud",
        "version": 2,
        "resolved_from": "models:/fraud/latest",
        "commit": head,
        "artifact": v2.artifact.to_dict(),
    }
    assert [f["path"] for f in data["models"][1]["artifact"]["files"]] == ["sub/cfg.json", "w.bin"]
    assert run("pin", *URIS, "-o", str(lock)).exit_code == 0
    assert lock.read_bytes() == first, "the same answers give the same bytes"
    assert first.endswith(b"}\n") and b"  " in first


def test_pin_update_shows_what_moved(reg: Registry, tmp_path: Path) -> None:
    lock = tmp_path / "models.lock"
    assert run("pin", *URIS, "-o", str(lock)).exit_code == 0
    reg.set_alias("fraud", "champion", 2)
    out = run("pin", "--update", "-o", str(lock), "--json")
    assert out.exit_code == 0, out.output
    moved = {m["uri"]: m["status"] for m in json.loads(out.output)["moves"]}
    assert moved == {"models:/fraud@champion": "moved", "models:/fraud/latest": "unchanged"}
    assert load_lock(lock).get("models:/fraud@champion").version == 2
    text = run("pin", "--update", "-o", str(lock)).output
    assert "models:/fraud@champion: fraud v2 (unchanged)" in text
    missing = run("pin", "--update", "-o", str(tmp_path / "none.lock"))
    assert missing.exit_code == 2 and "nothing to update" in missing.output


def test_lock_download_with_registry_and_file_store_gone(reg: Registry, tmp_path: Path) -> None:
    lock = tmp_path / "models.lock"
    assert run("pin", *URIS, "-o", str(lock)).exit_code == 0
    first = run("download", "--lock", str(lock), str(tmp_path / "srv1"))
    assert first.exit_code == 0, first.output
    assert (tmp_path / "srv1/fraud/1/m.bin").read_bytes() == (tmp_path / "m.bin").read_bytes()
    shutil.rmtree(reg.root)
    shutil.rmtree(tmp_path / "registry-artifacts")  # the file:// store, gone too
    env = {**os.environ, "GITREG_REPO": str(tmp_path / "nowhere")}
    again = subprocess.run(
        [sys.executable, "-m", "gitreg", "download", "--lock", str(lock), str(tmp_path / "srv2")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert tree(tmp_path / "srv2") == tree(tmp_path / "srv1")
    ok = run("verify", "--lock", str(lock), str(tmp_path / "srv2"))
    assert ok.exit_code == 0 and ok.output.count(" OK") == 2
    gone = run("verify", "--lock", str(lock))  # the store itself is gone: MISSING
    assert gone.exit_code == 4


def test_an_edited_digest_is_refused_and_leaves_nothing(reg: Registry, tmp_path: Path) -> None:
    lock = tmp_path / "models.lock"
    assert run("pin", *URIS, "-o", str(lock)).exit_code == 0
    data = json.loads(lock.read_text())
    real = data["models"][0]["artifact"]["digest"]
    data["models"][0]["artifact"]["digest"] = real[:-4] + (
        "0000" if real[-4:] != "0000" else "1111"
    )
    bad = tmp_path / "bad.lock"
    bad.write_text(json.dumps(data))
    out = run("download", "--lock", str(bad), str(tmp_path / "srv"))
    assert out.exit_code == 1
    assert out.output.startswith("gitreg: error: ") and out.output.count("\n") == 1
    assert "does not match its manifest" in out.output
    assert not (tmp_path / "srv").exists() and leftovers(tmp_path) == []
    assert not any(
        (tmp_path / "cache" / "sha256").glob(data["models"][0]["artifact"]["digest"][7:])
    )
    # a file's digest in a folder's listing: the listing no longer adds up, refused on load
    data["models"][0]["artifact"]["digest"] = real
    data["models"][1]["artifact"]["files"][0]["digest"] = "sha256:" + "0" * 64
    bad.write_text(json.dumps(data))
    out = run("download", "--lock", str(bad), str(tmp_path / "srv"))
    assert out.exit_code == 1 and "does not match its manifest" in out.output
    assert not (tmp_path / "srv").exists() and leftovers(tmp_path) == []


def test_a_malformed_lock_is_one_sentence(reg: Registry, tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    for text, why in [
        ("{", "not a lock file"),
        ('{"lock_version": 1, "models": [], "models": []}', "duplicate key"),
        ('{"lock_version": 2, "models": []}', "lock_version must be 1"),
        ('{"lock_version": 1, "storage_options": {"secret": "s"}, "models": []}', "credentials"),
    ]:
        lock.write_text(text)
        out = run("download", "--lock", str(lock), str(tmp_path / "srv"))
        assert out.exit_code == 1 and why in out.output and out.output.count("\n") == 1, text
        assert "Traceback" not in out.output and not (tmp_path / "srv").exists()
    good = tmp_path / "good.lock"
    assert run("pin", "models:/fraud/1", "-o", str(good)).exit_code == 0
    lock.write_text(good.read_text().replace('"models:/fraud/1"', '"fraud; rm -rf /"'))
    out = run("verify", "--lock", str(lock))
    assert out.exit_code == 1 and "is not a model URI" in out.output
    assert run("pin", "models:/fraud/1", "-o", str(lock)).exit_code == 0, "a fresh pin replaces it"
    assert lock.read_bytes() == good.read_bytes()
    assert run("pin", "--update", "-o", str(tmp_path / "no.lock")).exit_code == 2
    used = run("download", "--lock", str(lock), "a", "b")
    assert used.exit_code == 2 and "name one folder" in used.output


def test_verify_lock_finds_a_tampered_copy(reg: Registry, tmp_path: Path) -> None:
    lock = tmp_path / "models.lock"
    assert run("pin", *URIS, "-o", str(lock)).exit_code == 0
    assert run("download", "--lock", str(lock), str(tmp_path / "srv")).exit_code == 0
    assert run("verify", "--lock", str(lock)).exit_code == 0
    weights = tmp_path / "srv/fraud/2/d/w.bin"
    weights.write_bytes(b"\0" + weights.read_bytes()[1:])
    out = run("verify", "--lock", str(lock), str(tmp_path / "srv"), "--json")
    assert out.exit_code == 1
    rows = {r["uri"]: r["status"] for r in json.loads(out.output)}
    assert rows == {"models:/fraud@champion": "OK", "models:/fraud/latest": "MISMATCH"}


def test_python_api_fetches_a_lock(reg: Registry, tmp_path: Path) -> None:
    from gitreg.serving.pin import pin

    lock = pin(reg, URIS)
    paths = fetch(lock, tmp_path / "srv")
    assert paths["models:/fraud@champion"].read_bytes() == (tmp_path / "m.bin").read_bytes()
    assert tree(paths["models:/fraud/latest"]) == tree(tmp_path / "d")
    assert cache_entry(lock.get("models:/fraud/latest").artifact).is_dir()


def test_lock_download_with_registry_and_s3_store_gone(tmp_path: Path, s3: S3) -> None:
    init_registry(tmp_path / "reg", store=s3.uri("models"))
    cfg = tmp_path / "reg" / "gitreg.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "  allowed:", f"  storage_options: {{endpoint_url: '{s3.endpoint}'}}\n  allowed:"
        )
    )
    git(tmp_path / "reg", "commit", "-qam", "store settings")
    r = Registry(tmp_path / "reg")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "w.bin").write_bytes(os.urandom(70_000))
    (tmp_path / "d" / "c.txt").write_bytes(b"c")
    r.register("ranker", tmp_path / "d")
    lock = tmp_path / "models.lock"
    assert run("--repo", str(r.root), "pin", "models:/ranker/1", "-o", str(lock)).exit_code == 0
    assert json.loads(lock.read_text())["storage_options"] == {"endpoint_url": s3.endpoint}
    assert run("download", "--lock", str(lock), str(tmp_path / "srv1")).exit_code == 0
    shutil.rmtree(r.root)
    stored = s3.keys()
    s3.client.delete_objects(Bucket=s3.bucket, Delete={"Objects": [{"Key": k} for k in stored]})
    assert s3.keys() == []
    out = run("--repo", str(tmp_path / "nowhere"), "download", "--lock", str(lock),
              str(tmp_path / "srv2"))  # fmt: skip
    assert out.exit_code == 0, out.output
    assert tree(tmp_path / "srv2") == tree(tmp_path / "srv1")
    assert tree(tmp_path / "srv2/ranker/1/d") == tree(tmp_path / "d")
