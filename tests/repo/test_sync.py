"""Sharing a registry: --push and `gitreg push` against bare remotes on disk, with races,
hook rejections, lost answers, a missing and a hung remote (reliability note §3.1-3.5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import git

from gitreg.cli import cli
from gitreg.errors import Conflict, GitError, PushRejected
from gitreg.registry import Registry
from gitreg.registry.template import init_registry
from gitreg.repo import sync

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    init_registry(seed)
    git(seed, "push", "-q", bare.as_uri(), "main")
    return bare


def clone(remote: Path, name: str) -> Path:
    git(remote.parent, "clone", "-q", remote.as_uri(), name)
    return remote.parent / name


@pytest.fixture
def artifact(tmp_path: Path) -> str:
    p = tmp_path / "model.bin"
    p.write_bytes(b"weights" * 64)
    return p.as_uri()


def run(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--repo", str(repo), *args])


def remote_ops(remote: Path) -> list[str]:
    return git(remote, "log", "main", "--format=%(trailers:key=Gitreg-Op,valueonly)").split()


def head_op(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%(trailers:key=Gitreg-Op,valueonly)").strip()


def test_push_renumbers_a_collided_version_and_says_where(remote: Path, artifact: str) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    result = run(a, "register", "m", artifact, "--push")
    assert (
        result.exit_code == 0
        and result.stdout == "Registered m version 1 (pushed to origin/main)\n"
    )
    result = run(b, "register", "m", artifact, "--push")  # b has not fetched: it would say 1
    assert result.stdout == "Registered m version 2 (pushed to origin/main)\n"
    assert git(remote, "ls-tree", "--name-only", "main", "models/m/versions/").split() == [
        "models/m/versions/1.yaml",
        "models/m/versions/2.yaml",
    ]
    assert git(b, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


def test_deletes_on_both_sides_keep_every_retired_number(remote: Path, artifact: str) -> None:
    a = clone(remote, "a")
    for name in ["m", "m", "n"]:
        assert run(a, "register", name, artifact, "--push").exit_code == 0
    b = clone(remote, "b")
    assert run(a, "delete", "m", "--yes", "--push").exit_code == 0
    assert run(b, "delete", "n", "--yes").exit_code == 0  # a local commit, before a's delete
    result = run(b, "push")  # replays it on a's delete: both retired names are kept
    assert result.exit_code == 0, result.output
    retired = git(remote, "show", "main:.gitreg/retired.yaml")
    assert retired.endswith("m: 2\nn: 1\n")
    assert run(b, "register", "m", artifact, "--push").stdout.startswith("Registered m version 3")


def test_every_write_command_takes_push(remote: Path, artifact: str) -> None:
    a = clone(remote, "a")
    for args in (
        ["register", "m", artifact],
        ["transition", "m", "1", "Staging"],
        ["alias", "set", "m", "champion", "1"],
        ["alias", "delete", "m", "champion"],
        ["tag", "set", "m", "k=v"],
        ["tag", "delete", "m", "k"],
        ["describe", "m", "text"],
        ["rename", "m", "n"],
        ["delete", "n", "--version", "1", "--yes"],
    ):
        result = run(a, *args, "--push")
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout.rstrip().endswith("(pushed to origin/main)")
        assert git(a, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert len(remote_ops(remote)) == 9


def test_stage_change_is_rechecked_on_the_new_tip(remote: Path, artifact: str) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    assert run(a, "register", "m", artifact, "--push").exit_code == 0
    git(b, "pull", "-q")
    reg_b = Registry(b)
    reg_b.transition("m", 1, "Staging")  # b moved it locally first ...
    git(b, "reset", "-q", "--hard", "HEAD~1")
    assert run(a, "transition", "m", "1", "Staging", "--push").exit_code == 0
    # ... then b's own --push lost the race: its first run is on the fetched tip, where
    # v1 is already in Staging, so it is refused and nothing is left behind.
    with pytest.raises(Conflict, match="already in Staging"):
        sync.push_op(Registry(b), lambda r: r.transition("m", 1, "Staging"))
    assert git(b, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


def test_rerun_after_a_lost_race_is_refused_when_it_no_longer_applies(
    remote: Path, artifact: str
) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    assert run(a, "register", "m", artifact, "--push").exit_code == 0
    git(b, "pull", "-q")
    calls: list[int] = []

    def transition(r: Registry) -> object:
        calls.append(1)
        if len(calls) == 1:  # between b's commit and its push, a wins the race
            assert run(a, "transition", "m", "1", "Staging", "--push").exit_code == 0
        return r.transition("m", 1, "Staging")

    with pytest.raises(Conflict, match=r"changed while this was being pushed.*already in Staging"):
        sync.push_op(Registry(b), transition)
    assert len(calls) == 2
    assert git(b, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")  # no orphan commit


def test_gitreg_push_replays_local_commits(remote: Path, artifact: str) -> None:
    a, b = clone(remote, "a"), clone(remote, "b")
    for _ in range(2):
        assert run(b, "register", "m", artifact).exit_code == 0
    assert run(a, "register", "m", artifact, "--push").exit_code == 0
    result = run(b, "push")
    assert result.exit_code == 0 and result.stdout == (
        "Pushed 2 commits to origin/main\n"
        "m version 1 was renumbered to 2: origin/main already had a version 1; use models:/m/2\n"
        "m version 2 was renumbered to 3: origin/main already had a version 2; use models:/m/3\n"
    )
    subjects = git(remote, "log", "main", "--format=%s", "-3").splitlines()
    assert subjects == ["register m v3", "register m v2", "register m v1"]
    assert run(b, "push").stdout == "origin/main is up to date\n"
    assert len(set(remote_ops(remote))) == len(remote_ops(remote)) == 3


def test_push_refuses_to_move_commits_gitreg_did_not_make(remote: Path, artifact: str) -> None:
    a = clone(remote, "a")
    (a / "notes.txt").write_text("mine")
    git(a, "add", "notes.txt")
    git(a, "commit", "-q", "-m", "my own work")
    result = run(a, "register", "m", artifact, "--push")
    assert result.exit_code == 1
    assert "gitreg did not make" in result.stderr and "my own work" in result.stderr
    assert git(a, "log", "-1", "--format=%s") == "my own work\n"


def test_hook_rejection_raises_with_its_text_and_leaves_no_orphan(
    remote: Path, artifact: str
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'registry is frozen for the audit' >&2\nexit 1\n")
    hook.chmod(0o755)
    a = clone(remote, "a")
    before = git(remote, "rev-parse", "main")
    with pytest.raises(PushRejected, match="registry is frozen for the audit"):
        sync.push_op(Registry(a), lambda r: r.register("m", artifact))
    assert git(a, "rev-parse", "HEAD") == before == git(remote, "rev-parse", "main")
    assert not (a / "models" / "m").exists()
    result = run(a, "register", "m", artifact, "--push")
    assert result.exit_code == 1 and "registry is frozen" in result.stderr


def test_lost_answer_is_found_by_op_id(remote: Path, artifact: str) -> None:
    """receive-pack finishes the update, then the connection hangs (reliability §2.3)."""
    a = clone(remote, "a")
    wrapper = remote.parent / "ack-lost.sh"
    wrapper.write_text('#!/bin/sh\ngit-receive-pack "$@"\nsleep 30\n')
    wrapper.chmod(0o755)
    git(a, "config", "remote.origin.receivepack", str(wrapper))
    t0 = time.monotonic()
    mv, report = sync.push_op(Registry(a), lambda r: r.register("m", artifact), timeout=3)
    assert time.monotonic() - t0 < 15
    assert mv.version == 1 and report.retries == 0
    op = head_op(a)
    assert remote_ops(remote).count(op) == 1  # exactly one version for that op id
    assert git(remote, "ls-tree", "--name-only", "main", "models/m/versions/").split() == [
        "models/m/versions/1.yaml"
    ]


def test_network_down_fails_clearly_and_changes_nothing(remote: Path, artifact: str) -> None:
    a = clone(remote, "a")
    moved = remote.with_name("moved.git")
    remote.rename(moved)
    result = run(a, "register", "m", artifact, "--push")
    assert result.exit_code == 1 and "could not fetch from origin" in result.stderr
    assert "nothing was changed" in result.stderr and "Traceback" not in result.output
    assert not (a / "models" / "m").exists()
    moved.rename(remote)
    assert run(a, "register", "m", artifact, "--push").exit_code == 0
    assert len(remote_ops(remote)) == 1


def test_hung_remote_times_out_then_push_succeeds(
    remote: Path, artifact: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone(remote, "a")
    before = git(remote, "rev-parse", "main")
    git(a, "config", "remote.origin.receivepack", "sleep 30; git-receive-pack")
    monkeypatch.setenv("GITREG_TIMEOUT", "2")
    t0 = time.monotonic()
    result = run(a, "register", "m", artifact, "--push")
    elapsed = time.monotonic() - t0
    assert result.exit_code == 1, result.output
    assert elapsed < 2 + 6, elapsed  # timeout + epsilon (a fetch to check the op id)
    assert "no answer within 2 s" in result.stderr and "run 'gitreg push'" in result.stderr
    assert git(remote, "rev-parse", "main") == before
    git(a, "config", "--unset", "remote.origin.receivepack")
    result = run(a, "push")
    assert result.exit_code == 0 and result.stdout == "Pushed 1 commit to origin/main\n"
    assert len(remote_ops(remote)) == 1


def test_ext_transport_and_option_like_remotes_are_refused(remote: Path, artifact: str) -> None:
    a = clone(remote, "a")
    sentinel = a.parent / "pwned"
    for url in (f"ext::sh -c touch% {sentinel}", "fd::3", f"--upload-pack=touch {sentinel}"):
        git(a, "config", "remote.origin.url", url)
        result = run(a, "register", "m", artifact, "--push")
        assert result.exit_code == 1 and "refusing remote URL" in result.stderr, url
        result = run(a, "push")
        assert result.exit_code == 1 and "refusing remote URL" in result.stderr
    assert not sentinel.exists()
    assert not (a / "models" / "m").exists()


def test_gitreg_never_forces() -> None:
    """Static: no --force, no force=True, no '+' refspec anywhere in the package, but for
    ``download --force`` (a local file replaced once verified; no git involved)."""
    source = "\n".join(p.read_text() for p in (ROOT / "gitreg").rglob("*.py"))
    download_force = (
        r'download [^\n]*--force|--force(``)? replaces|"--force", is_flag=True, help="Replace DEST'
    )
    source = re.sub(download_force, "", source)
    assert not re.search(r"--force(?!-with-lease)|force\s*=\s*True|[\"']\+refs/", source)
    assert "allow_unsafe" not in source  # GitPython's allow_unsafe_* stay at their False default


def test_push_through_a_real_subprocess(remote: Path, artifact: str) -> None:
    a = clone(remote, "a")
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "register", "m", artifact, "--push"],
        cwd=a,
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Registered m version 1 (pushed to origin/main)\n"


def test_lock_queues_a_second_process(remote: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitreg.repo import lock

    a = clone(remote, "a")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from gitreg.repo import lock; from gitreg.registry import Registry\n"
            "with lock.hold(Registry(sys.argv[1])):\n print('held', flush=True); time.sleep(3)",
            str(a),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with (
        pytest.raises(GitError, match="another gitreg process is writing"),
        lock.hold(Registry(a), timeout=0.3),
    ):
        pass
    t0 = time.monotonic()
    with lock.hold(Registry(a), timeout=30):  # queues until the holder is done
        waited = time.monotonic() - t0
    holder.wait()
    assert waited > 0.5


@pytest.mark.slow
def test_eight_processes_race_without_losing_anything(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import race

    result = race.race(tmp_path, clones=8, versions=5)
    print("\n" + "\n".join(result.lines()))
    assert result.acknowledged == 40
    assert result.acked_versions == list(range(1, 41))
    assert result.versions_on_remote == list(range(1, 41))
    assert result.ops_once and result.lost == 0 and result.duplicated == 0
    assert result.fsck_clean
    assert result.seconds < 60


@pytest.mark.slow
def test_forced_pushes_lose_acknowledged_work(tmp_path: Path) -> None:
    """The same harness, pushing with a raw `git push --force`: the detector sees losses."""
    sys.path.insert(0, str(ROOT / "bench"))
    import race

    result = race.race(tmp_path, clones=8, versions=5, force=True)
    print("\n" + "\n".join(result.lines()))
    assert result.lost > 0 or result.duplicated > 0
