"""Hostile input end to end through the CLI: malicious YAML in the registry, path
traversal, symlinks, option-like names and refs, and secrets (reliability note §3.11-3.14,
3.16, 3.17, 3.22). Each gets one sentence on stderr and a non-zero exit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gitreg import secrets
from gitreg.cli import cli


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reg"
    assert CliRunner().invoke(cli, ["init", str(path)]).exit_code == 0
    monkeypatch.setenv("GITREG_REPO", str(path))
    art = tmp_path / "model.bin"
    art.write_bytes(b"w" * 100)
    assert run("register", "m", str(art)).exit_code == 0
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def refused(result: Result, code: int | None = None) -> str:
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitreg: error: "), result.stderr
    return lines[0]


BOMB = b"""a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""
HOSTILE_YAML = {
    "bomb": (BOMB, "alias"),
    "oversized": (b"name: m\n" + b"# pad\n" * 60000, "bytes"),
    "deep": (b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nest"),
    "unsafe tag": (b"name: !!python/object/apply:os.system ['touch SENTINEL']\n", "tag"),
    "binary tag": (b"name: !!binary aGVsbG8=\n", "tag"),
    "duplicate key": (b"name: m\nversion: 1\nstage: Staging\nstage: Production\n", "duplicate"),
    "implicit retyping": (b"name: m\nversion: 1.10\nstage: NO\n", ""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_yaml_is_refused_fast(repo: Path, case: str) -> None:
    text, word = HOSTILE_YAML[case]
    (repo / "models/m/versions/1.yaml").write_bytes(text)
    run("show", "m", "1")  # warm caches, as a second command would find them
    t0 = time.perf_counter()
    result = run("show", "m", "1")
    elapsed = time.perf_counter() - t0
    line = refused(result)
    assert "models/m/versions/1.yaml" in line and word in line.lower()
    # an alias bomb or deep nesting that got through would take seconds (pyyaml#235); the
    # bound leaves room for a loaded CI machine
    assert elapsed < 2.0, f"{case}: {elapsed * 1000:.0f} ms"
    assert not (repo / "SENTINEL").exists() and not Path("SENTINEL").exists()


@pytest.mark.parametrize("name", ["..", "..x", "a/b", "a:b", "/etc", "a\0b", "a\nb", "x" * 257])
def test_bad_model_names_are_refused_before_any_write(repo: Path, name: str) -> None:
    line = refused(run("register", "--", name, str(repo / "gitreg.yaml")), 2)
    assert "invalid model name" in line
    assert sorted(p.name for p in (repo / "models").iterdir()) == [".gitkeep", "m"]


@pytest.mark.parametrize("name", [".git", "-rf", "m\u043edel", "x" * 129, "--upload-pack=x"])
def test_odd_names_mlflow_accepts_land_in_a_tilde_folder(repo: Path, name: str) -> None:
    result = run("register", "--", name, str(repo / "gitreg.yaml"))
    assert result.exit_code == 0, result.output
    made = sorted(p.name for p in (repo / "models").iterdir())
    assert len(made) == 3 and made[2].startswith("~") and made[:2] == [".gitkeep", "m"]


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("file:///tmp/../etc/passwd", "'..'"),
        ("http://example.com/model.bin", "not supported"),
        ("s3://user:hunter2@bucket/model.bin", "REDACTED"),
        ("s3://bucket/model.bin?X-Amz-Signature=abc123&X-Amz-Credential=AKIA", "REDACTED"),
        ("file://otherhost/etc/passwd", "must be absolute"),
    ],
)
def test_bad_artifact_uris_are_refused(repo: Path, uri: str, why: str) -> None:
    line = refused(run("register", "m", uri), 2)
    assert why in line and "hunter2" not in line and "abc123" not in line


def test_option_like_ref_never_reaches_git(repo: Path, tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    line = refused(run("show", "m", "--ref", f"--output={sentinel}"))
    assert "unknown git ref" in line
    assert not sentinel.exists()


def test_symlinked_manifest_and_model_folder_are_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "credentials"
    outside.write_text("name: m\nversion: 2\n")
    (repo / "models/m/versions/2.yaml").symlink_to(outside)
    assert "symbolic link" in refused(run("show", "m", "2"))
    (repo / "models/m/versions/2.yaml").unlink()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "versions").mkdir(parents=True)
    (repo / "models/evil").symlink_to(elsewhere)
    assert "symbolic link" in refused(run("show", "evil"))


def test_symlink_in_artifact_folder_is_refused(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model-dir"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    (folder / "creds").symlink_to(Path.home())
    line = refused(run("register", "m", str(folder)))
    assert "link" in line
    assert run("show", "m", "2").exit_code != 0  # nothing was registered


AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("args", "secret"),
    [
        (["register", "m", "ART", "-t", f"key={AWS}"], AWS),
        (["register", "m", "ART", "-p", f"token={GH}"], GH),
        (["register", "m", "ART", "--run-id", PAT], PAT),
        (["register", "m", "ART", "-d", f"notes\n{PEM}"], "MIIEow"),
        (
            ["register", "m", "ART", "--data-version", "https://bob:hunter2@data.example/x"],
            "hunter2",
        ),
        (["tag", "set", "m", "--version", "1", f"aws={AWS}"], AWS),
        (["tag", "set", "m", f"{GH}=x"], GH),
        (["describe", "m", f"see {PEM}"], "MIIEow"),
        (["describe", "m", "--version", "1", "https://s3/x?X-Amz-Signature=deadbeef"], "deadbeef"),
    ],
)
def test_secrets_are_refused_and_redacted(
    repo: Path, tmp_path: Path, args: list[str], secret: str
) -> None:
    args = [str(tmp_path / "model.bin") if a == "ART" else a for a in args]
    head = (repo / ".git" / "HEAD").read_text()
    line = refused(run(*args), 2)
    assert "REDACTED" in line and "secrets must not be stored" in line
    assert secret not in line
    assert (repo / ".git" / "HEAD").read_text() == head
    assert run("show", "m", "2").exit_code != 0


def test_secret_detector_unit() -> None:
    assert secrets.find("plain text, lr=0.01, s3://bucket/key") is None
    assert secrets.find(f"x {AWS} y") == ("an AWS access key", "AKIA…REDACTED")
    hit = secrets.find("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert hit is not None and hit[0] == "a private key"
    assert secrets.find("no AKIA here") is None


def test_no_environment_credential_lands_in_a_commit(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert run("register", "m", str(tmp_path / "model.bin"), "-t", "a=b").exit_code == 0
    dump = os.popen(f"git -C {repo} log -p --all").read()
    assert "wJalrXUtnFEMI" not in dump
