"""Artifacts end to end against S3 (moto's server on 127.0.0.1): a registry whose store is
``s3://``, through the Registry API, click's runner and a real ``python -m gitreg``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import ArtifactError, DigestMismatch, NotFound, UsageError
from gitreg.registry.template import init_registry
from gitreg.store import cache_entry

if TYPE_CHECKING:
    from s3_server import S3

pytest_plugins = ["s3_server"]
MIB = 1 << 20


class Boom(Exception):
    pass


def make_registry(root: Path, store: str, options: str = "", allowed: str = "") -> Registry:
    init_registry(root, store=store)
    cfg = root / "gitreg.yaml"
    text = cfg.read_text()
    if allowed:
        text = text.replace("allowed: [file://, s3://, gs://]", f"allowed: {allowed}")
    if options:
        text = text.replace("  allowed:", f"  storage_options: {options}\n  allowed:")
    cfg.write_text(text)
    git(root, "commit", "-qam", "store settings", "--allow-empty")
    return Registry(root)


@pytest.fixture
def reg(tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "reg"))
    return make_registry(tmp_path / "reg", s3.uri("models"), f"{{endpoint_url: '{s3.endpoint}'}}")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(os.urandom(2 * MIB + 3))
    (model / "config.json").write_bytes(b'{"layers": 2}\n')
    (model / "sub" / "vocab.txt").write_bytes(b"a\nb\n")
    return model


@pytest.fixture
def file(tmp_path: Path) -> Path:
    f = tmp_path / "model.pkl"
    f.write_bytes(os.urandom(MIB + 11))
    return f


def key_of(s3: S3, uri: str) -> str:
    return uri.removeprefix(s3.uri() + "/")


def flip(data: bytes, at: int = 5) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def forget_everything(s3: S3) -> None:
    stored = s3.keys()
    s3.client.delete_objects(Bucket=s3.bucket, Delete={"Objects": [{"Key": k} for k in stored]})


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def commits(reg: Registry) -> int:
    return int(git(reg.root, "rev-list", "--count", "HEAD"))


def same_tree(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files
    )


# ---------------------------------------------------------------- the Registry API


def test_register_resolve_download_verify(
    reg: Registry, s3: S3, file: Path, folder: Path, tmp_path: Path
) -> None:
    one = reg.register("fraud", file)
    two = reg.register("ranker", folder)
    assert one.artifact.uri.startswith(s3.uri("models/fraud/sha256/"))
    assert two.artifact.uri == s3.uri(f"models/ranker/sha256/{two.artifact.digest[7:]}/model")
    assert [f.path for f in two.artifact.files] == ["config.json", "sub/vocab.txt", "weights.bin"]
    assert reg.resolve("models:/ranker/latest").artifact == two.artifact
    reg.download("models:/fraud/1", tmp_path / "out.pkl")
    reg.download("models:/ranker/1", tmp_path / "out")
    assert (tmp_path / "out.pkl").read_bytes() == file.read_bytes()
    assert same_tree(folder, tmp_path / "out")
    assert reg.verify("models:/fraud/1") == ("OK", "")
    assert reg.verify(two).status == "OK"
    assert "endpoint" not in (reg.root / "models/fraud/versions/1.yaml").read_text()


def test_same_bytes_twice_are_stored_once(reg: Registry, s3: S3, folder: Path) -> None:
    a, b = reg.register("m", folder), reg.register("m", folder)
    assert (a.version, b.version) == (1, 2) and a.artifact == b.artifact
    assert len(s3.keys()) == 3  # three files, one copy


def test_tampered_byte_is_a_mismatch(reg: Registry, s3: S3, folder: Path, tmp_path: Path) -> None:
    mv = reg.register("m", folder)
    key = key_of(s3, mv.artifact.uri) + "/weights.bin"
    body = (folder / "weights.bin").read_bytes()
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=flip(body, len(body) // 2))
    status, detail = reg.verify("models:/m/1")
    assert status == "MISMATCH" and "weights.bin" in detail  # names the file that changed
    with pytest.raises(DigestMismatch, match=r"weights\.bin"):
        reg.download("models:/m/1", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list((tmp_path / "cache").rglob("weights.bin")), "nothing unverified is cached"


def test_deleted_object_is_missing(reg: Registry, s3: S3, file: Path, tmp_path: Path) -> None:
    mv = reg.register("m", file)
    s3.client.delete_object(Bucket=s3.bucket, Key=key_of(s3, mv.artifact.uri))
    assert reg.verify("models:/m/1").status == "MISSING"
    with pytest.raises(ArtifactError, match="does not exist"):
        reg.download("models:/m/1", tmp_path / "out")


@pytest.mark.parametrize("what", ["file", "folder"])
def test_interrupted_upload_leaves_nothing_and_no_commit(
    reg: Registry, s3: S3, tmp_path: Path, what: str
) -> None:
    src = tmp_path / "big"
    if what == "folder":
        src.mkdir()
        for i in range(3):
            (src / f"part{i}").write_bytes(os.urandom(6 * MIB))
    else:
        src.write_bytes(os.urandom(12 * MIB))
    size, done = sum(p.stat().st_size for p in [src, *src.rglob("*")] if p.is_file()), [0]

    def interrupt(n: int) -> None:  # hashing counts `size`, then sending: stop half-way
        done[0] += n
        if done[0] > size * 1.5:
            raise Boom("interrupted")

    before = commits(reg)
    with pytest.raises(Boom):
        reg.register("m", src, progress=interrupt)
    assert s3.keys() == [] and s3.pending_uploads() == []
    assert commits(reg) == before and git(reg.root, "status", "--porcelain") == ""
    with pytest.raises(NotFound):
        reg.get_model("m")


def test_cache_serves_a_second_download_offline(
    reg: Registry, s3: S3, folder: Path, file: Path, tmp_path: Path
) -> None:
    a, b = reg.register("m", folder), reg.register("f", file)
    reg.download("models:/m/1", tmp_path / "first")
    reg.download("models:/f/1", tmp_path / "first.pkl")
    entry = cache_entry(a.artifact, tmp_path / "cache")
    assert same_tree(folder, entry) and not (entry / "weights.bin").stat().st_mode & stat.S_IWUSR
    forget_everything(s3)  # only the cache can answer now
    reg.download("models:/m/1", tmp_path / "second")
    assert same_tree(folder, tmp_path / "second")
    with pytest.raises(ArtifactError, match="does not exist"):
        reg.download("models:/m/1", tmp_path / "third", cache=False)
    cfg = reg.root / "gitreg.yaml"  # unreachable store (nothing listens on port 9)
    cfg.write_text(cfg.read_text().replace(s3.endpoint, "http://127.0.0.1:9"))
    Registry(reg.root).download("models:/f/1", tmp_path / "offline.pkl")
    assert (tmp_path / "offline.pkl").read_bytes() == file.read_bytes()
    assert cache_entry(b.artifact, tmp_path / "cache").is_file()


def test_a_rotten_cache_entry_is_replaced(reg: Registry, file: Path, tmp_path: Path) -> None:
    mv = reg.register("m", file)
    reg.download("models:/m/1", tmp_path / "a.pkl")
    entry = cache_entry(mv.artifact, tmp_path / "cache")
    entry.chmod(0o644)
    entry.write_bytes(flip(entry.read_bytes()))
    reg.download("models:/m/1", tmp_path / "b.pkl")  # caught, dropped, fetched again
    assert (tmp_path / "b.pkl").read_bytes() == file.read_bytes() == entry.read_bytes()


def test_store_and_uris_must_be_allowed(tmp_path: Path, s3: S3, file: Path) -> None:
    reg = make_registry(tmp_path / "r", s3.uri("models"), allowed="['s3://other-bucket']")
    with pytest.raises(UsageError, match="outside the allowed locations"):
        reg.register("m", file)
    with pytest.raises(UsageError, match="outside the allowed locations"):
        reg.register("m", s3.uri("models/x.bin"))
    assert s3.keys() == [] and commits(reg) == 2


def test_credentials_in_gitreg_yaml_are_refused(tmp_path: Path, s3: S3, file: Path) -> None:
    options = "{endpoint_url: 'http://127.0.0.1:1', client_kwargs: {aws_secret_access_key: s3kr1t}}"
    reg = make_registry(tmp_path / "r", s3.uri("models"), options)
    with pytest.raises(
        UsageError, match=r"storage_options\.client_kwargs\.aws_secret_access_key"
    ) as e:
        reg.register("m", file)
    assert "s3kr1t" not in str(e.value)


def test_aws_profile_is_honoured(
    tmp_path: Path, s3: S3, file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No storage options and no endpoint variable: the profile names the endpoint."""
    (tmp_path / "config").write_text(
        f"[profile gitreg-moto]\nregion = us-east-1\nendpoint_url = {s3.endpoint}\n"
    )
    (tmp_path / "credentials").write_text(
        "[gitreg-moto]\naws_access_key_id = profile\naws_secret_access_key = profile\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "gitreg-moto")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    reg = make_registry(tmp_path / "r", s3.uri("models"))
    mv = reg.register("m", file)
    assert s3.keys() == [key_of(s3, mv.artifact.uri)]
    assert reg.verify("models:/m/1").status == "OK"


# ---------------------------------------------------------------- the CLI


def test_cli_verify_exit_statuses(reg: Registry, s3: S3, file: Path, folder: Path) -> None:
    a, b = reg.register("f", file), reg.register("d", folder)
    result = run("verify", "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n")[0].split() == ["NAME", "VERSION", "STATUS", "DETAIL"]
    assert result.stdout.count(" OK") == 2

    key = key_of(s3, a.artifact.uri)
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=flip(file.read_bytes()))
    result = run("verify", "models:/f/1", "--json")
    assert result.exit_code == 1, result.output
    [row] = json.loads(result.stdout)
    assert (row["name"], row["version"], row["status"]) == ("f", 1, "MISMATCH")

    s3.client.delete_object(Bucket=s3.bucket, Key=key_of(s3, b.artifact.uri) + "/config.json")
    s3.client.delete_object(Bucket=s3.bucket, Key=key_of(s3, b.artifact.uri) + "/weights.bin")
    s3.client.delete_object(Bucket=s3.bucket, Key=key_of(s3, b.artifact.uri) + "/sub/vocab.txt")
    assert run("verify", "models:/d/1").exit_code == 4
    result = run("verify", "--all", "--json")
    assert result.exit_code == 1  # a mix: MISMATCH is the worst news
    assert [r["status"] for r in json.loads(result.stdout)] == ["MISSING", "MISMATCH"]


def test_cli_verify_usage(reg: Registry) -> None:
    for args in ([], ["--all", "models:/m/1"]):
        result = run("verify", *args)
        assert result.exit_code == 2 and "--all" in result.stderr
    result = run("verify", "models:/nope/1")
    assert result.exit_code == 1 and "no registered model" in result.stderr
    assert run("verify", "--all").exit_code == 0  # nothing registered, nothing wrong


def test_cli_download_cache_and_no_cache(reg: Registry, s3: S3, file: Path, tmp_path: Path) -> None:
    assert run("register", "m", str(file), "-q").exit_code == 0
    assert run("download", "models:/m/1", str(tmp_path / "a.pkl")).exit_code == 0
    forget_everything(s3)
    assert run("download", "models:/m/1", str(tmp_path / "b.pkl")).exit_code == 0
    result = run("download", "models:/m/1", str(tmp_path / "c.pkl"), "--no-cache")
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert (tmp_path / "b.pkl").read_bytes() == file.read_bytes()


def test_cli_subprocess_against_s3(tmp_path: Path, s3: S3) -> None:
    """Real processes; the endpoint comes from AWS_ENDPOINT_URL, the bar is forced on."""
    root = tmp_path / "reg"
    make_registry(root, s3.uri("models"))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * MIB))
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": s3.endpoint,
        "GITREG_REPO": str(root),
        "GITREG_CACHE_DIR": str(tmp_path / "cache"),
        "GITREG_PROGRESS": "always",
    }

    def gitreg(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "gitreg", *args]
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    done = gitreg("register", "big", str(big))
    assert done.returncode == 0, done.stderr
    last = done.stderr.split("\r")[-1]
    assert "register big: 100%|" in last and "| 18.9M/18.9M [" in last  # hashed + sent: 2 x 9 MiB
    done = gitreg("verify", "--all")
    assert done.returncode == 0 and done.stdout.count(" OK") == 1, done.stdout
    done = gitreg("download", "models:/big/1", str(tmp_path / "out.bin"))
    assert done.returncode == 0, done.stderr
    assert "100%|" in done.stderr and "| 9.44M/9.44M [" in done.stderr.splitlines()[-1]
    assert (tmp_path / "out.bin").read_bytes() == big.read_bytes()
    s3.client.delete_object(Bucket=s3.bucket, Key=s3.keys()[0])
    done = gitreg("verify", "models:/big/1", "-q")
    assert done.returncode == 4 and "MISSING" in done.stdout and "Traceback" not in done.stderr
