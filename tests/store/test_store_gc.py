"""`gitreg gc --store`: a dry run lists the orphan and deletes nothing; --delete removes
only it. Objects referenced from any branch, tag or past commit, young ones and files
outside gitreg's layout stay, and `verify --all` is still OK (file:// and S3 on moto)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result
from conftest import git

from gitreg import Registry, store
from gitreg.cli import cli
from gitreg.registry.template import init_registry

if TYPE_CHECKING:
    from s3_server import S3

pytest_plugins = ["s3_server"]
OLD = time.time() - 10 * 86400


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def blob(tmp_path: Path, name: str, size: int = 300) -> Path:
    p = tmp_path / name
    p.write_bytes(os.urandom(size))
    return p


def age(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            os.utime(os.path.join(dirpath, f), (OLD, OLD))


def test_gc_lists_then_deletes_only_the_orphan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_registry(tmp_path / "reg")
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "reg"))
    reg = Registry(tmp_path / "reg")
    kept = reg.register("m", blob(tmp_path, "a.bin"))
    gone_later = reg.register("m", blob(tmp_path, "b.bin"))
    git(reg.root, "tag", "v2-era")
    reg.delete_version("m", 2)  # still referenced: a past commit (and a tag) name it
    git(reg.root, "checkout", "-qb", "experiment")
    side = reg.register("side", blob(tmp_path, "c.bin"))  # only on a branch
    git(reg.root, "checkout", "-q", "main")
    root = reg.store_uri()
    orphan = store.upload(blob(tmp_path, "o.bin"), root, "m")  # uploaded, never committed
    (tmp_path / "registry-artifacts" / "README.txt").write_text("not gitreg's")
    age(tmp_path / "registry-artifacts")
    young = store.upload(blob(tmp_path, "y.bin"), root, "m")  # an upload in flight

    dry = run("gc", "--store", "--json")
    assert dry.exit_code == 0, dry.output
    status = {o["uri"]: o["status"] for o in json.loads(dry.output)["objects"]}
    assert status == {
        kept.artifact.uri: "referenced",
        gone_later.artifact.uri: "referenced",
        side.artifact.uri: "referenced",
        orphan.uri: "orphan",
        young.uri: "young",
        f"{root}/README.txt": "unknown",
    }
    text = run("gc", "--store").output
    assert f"would delete {orphan.uri}" in text and "1 orphans" in text
    assert store.verify(orphan) == "OK", "a dry run deletes nothing"

    done = run("gc", "--store", "--delete")
    assert done.exit_code == 0 and f"deleted {orphan.uri}" in done.output
    assert store.verify(orphan) == "MISSING"
    for ref in (kept.artifact, gone_later.artifact, side.artifact, young):
        assert store.verify(ref) == "OK"
    assert (tmp_path / "registry-artifacts" / "README.txt").exists()
    assert run("verify", "--all").exit_code == 0
    assert run("verify", "--all", "--ref", "v2-era").exit_code == 0
    assert run("verify", "--all", "--ref", "experiment").exit_code == 0
    # with no grace, the young upload is an orphan too
    assert f"would delete {young.uri}" in run("gc", "--store", "--grace", "0").output
    bad = run("gc", "--store", "--grace", "soon")
    assert bad.exit_code == 2 and "is not a duration" in bad.output
    assert run("gc").exit_code == 2


def test_gc_on_s3(tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    init_registry(tmp_path / "reg", store=s3.uri("models"))
    cfg = tmp_path / "reg" / "gitreg.yaml"
    options = f"  storage_options: {{endpoint_url: '{s3.endpoint}'}}\n  allowed:"
    cfg.write_text(cfg.read_text().replace("  allowed:", options))
    git(tmp_path / "reg", "commit", "-qam", "store settings")
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "reg"))
    reg = Registry(tmp_path / "reg")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "w").write_bytes(b"w" * 10)
    (tmp_path / "d" / "v").write_bytes(b"v")
    kept = reg.register("m", tmp_path / "d")
    orphan = store.upload(
        blob(tmp_path, "o.bin"), reg.store_uri(), "m", {"endpoint_url": s3.endpoint}
    )
    dry = json.loads(run("gc", "--store", "--grace", "0", "--json").output)["objects"]
    assert {o["uri"]: o["status"] for o in dry} == {
        kept.artifact.uri: "referenced",
        orphan.uri: "orphan",
    }
    assert run("gc", "--store", "--grace", "1h").output.startswith("kept (young)")
    assert run("gc", "--store", "--grace", "0", "--delete").exit_code == 0
    prefix = kept.artifact.uri.removeprefix(s3.uri() + "/")
    assert s3.keys() == [f"{prefix}/v", f"{prefix}/w"]
    assert run("verify", "--all").exit_code == 0
