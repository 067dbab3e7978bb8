"""Issue 19, what a hostile reviewer broke: each fault through the CLI as a real subprocess
(a hang needs a process that can be timed out), on real repositories: FIFOs, mistyped
policy, silent renumbering, secrets split across key and value, colliding names, a
``models`` symlink in a pull request, early ``--at`` dates, half-written writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git

ROOT = Path(__file__).resolve().parents[2]


def gitreg(repo: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITREG_CRASH_AT"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "gitreg", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def refused(proc: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """One sentence on stderr, exit ``code``, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitreg: error: "), proc.stderr
    return lines[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "reg"
    ok(gitreg(path, "init", str(path)))
    return path


@pytest.fixture
def art(tmp_path: Path) -> str:
    p = tmp_path / "model.bin"
    p.write_bytes(b"w" * 100)
    return str(p)


FIFO = "is a named pipe (FIFO), not a regular file; gitreg refuses it"


# --- 1. FIFOs never block, never drop a model -------------------------------------------


@pytest.mark.parametrize("where", ["models/m/versions/2.yaml", "models/m/model.yaml"])
def test_fifo_under_models_is_refused_with_its_path_and_never_blocks(
    repo: Path, art: str, where: str
) -> None:
    ok(gitreg(repo, "register", "m", art))
    ok(gitreg(repo, "register", "other", art))
    (repo / where).unlink(missing_ok=True)
    os.mkfifo(repo / where)
    for command in (["check"], ["resolve", "models:/m/latest"], ["list"], ["show", "m"]):
        line = refused(gitreg(repo, *command, timeout=20))
        assert line == f"gitreg: error: {where}: {FIFO}", command
    head = git(repo, "rev-parse", "HEAD")
    refused(gitreg(repo, "register", "m", art, timeout=20))
    assert git(repo, "rev-parse", "HEAD") == head


# --- 2. a mistyped gitreg.yaml: file:line, exit 1, in every command that reads policy ----


def _mistype(repo: Path, mistake: str) -> int:
    """Replace gitreg.yaml's promotion block (or add an override) and commit it; returns
    the line the mistake is on."""
    lines = (repo / "gitreg.yaml").read_text().splitlines()
    if mistake.startswith("promotion"):
        start = next(i for i, line in enumerate(lines) if line.startswith("promotion:"))
        rest = range(start + 1, len(lines))
        end = next((i for i in rest if lines[i] and lines[i][0] not in " #"), len(lines))
        lines[start:end] = [mistake]
        at = start + 1
    else:
        lines.append(mistake)
        at = len(lines)
    (repo / "gitreg.yaml").write_text("\n".join(lines) + "\n")
    git(repo, "commit", "-qam", "mistyped policy")
    return at


@pytest.mark.parametrize(
    ("mistake", "said"),
    [
        ("promotion: 7", "promotion: expected a mapping, got 7"),
        ('overrides: {"*": 5}', "overrides.*: expected a mapping, got 5"),
    ],
)
def test_mistyped_policy_names_its_line_in_every_command(
    repo: Path, art: str, mistake: str, said: str
) -> None:
    ok(gitreg(repo, "register", "m", art))
    line = _mistype(repo, mistake)
    where = f"gitreg.yaml:{line}: {said}"
    for command in (
        ["transition", "m", "1", "Staging"],
        ["transition", "m", "1", "Production"],
        ["audit"],
        ["register", "m", art],
        ["alias", "set", "m", "champion", "1"],
    ):
        assert refused(gitreg(repo, *command)) == f"gitreg: error: {where}", command
    check = gitreg(repo, "check")
    assert check.returncode == 1 and where in check.stdout + check.stderr
    assert "Traceback" not in check.stdout + check.stderr


# --- 3. renumbering on push is said, in text and in --json ------------------------------


@pytest.fixture
def two_clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    from gitreg.registry.template import init_registry

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    seed = tmp_path / "seed"
    init_registry(seed)
    git(seed, "push", "-q", remote.as_uri(), "main")
    git(tmp_path, "clone", "-q", remote.as_uri(), "a")
    git(tmp_path, "clone", "-q", remote.as_uri(), "b")
    return remote, tmp_path / "a", tmp_path / "b"


@pytest.mark.parametrize("as_json", [False, True])
def test_push_says_which_version_was_renumbered(
    two_clones: tuple[Path, Path, Path], tmp_path: Path, as_json: bool
) -> None:
    import json

    remote, a, b = two_clones
    (tmp_path / "mine.bin").write_bytes(b"mine")
    (tmp_path / "theirs.bin").write_bytes(b"theirs")
    ok(gitreg(a, "register", "m", str(tmp_path / "mine.bin"), "--push"))
    git(b, "pull", "-q")
    assert ok(gitreg(b, "register", "m", str(tmp_path / "mine.bin"))).startswith(
        "Registered m version 2"
    )
    ok(gitreg(a, "register", "m", str(tmp_path / "theirs.bin"), "--push"))  # a's v2 first
    out = ok(gitreg(b, "push", *(["--json"] if as_json else [])))
    if as_json:
        assert json.loads(out)["renumbered"] == [{"name": "m", "was": 2, "now": 3}]
    else:
        assert out == (
            "Pushed 1 commit to origin/main\n"
            "m version 2 was renumbered to 3: origin/main already had a version 2; "
            "use models:/m/3\n"
        )
    assert git(remote, "ls-tree", "--name-only", "main", "models/m/versions/").split() == [
        "models/m/versions/1.yaml",
        "models/m/versions/2.yaml",
        "models/m/versions/3.yaml",
    ]


# --- 4. secrets: key and value together; check and check --base scan manifests ----------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example key


@pytest.mark.parametrize(
    "option",
    [f"--tag=AWS_SECRET_ACCESS_KEY={AWS_SECRET}", f"--param=aws_secret_access_key={AWS_SECRET}"],
)
def test_secret_split_across_key_and_value_is_refused(repo: Path, art: str, option: str) -> None:
    line = refused(gitreg(repo, "register", "m", art, option), code=2)  # a usage error
    assert "looks like it holds an AWS secret key" in line and AWS_SECRET not in line
    assert not (repo / "models/m").exists()


def _hand_edit_secret(repo: Path) -> None:
    path = repo / "models/m/versions/1.yaml"
    text = path.read_text()
    assert "tags: {}" in text, text
    path.write_text(text.replace("tags: {}", "tags:\n  note: AKIAABCDEFGHIJKLMNOP"))


def test_check_scans_hand_edited_manifests_for_secrets(repo: Path, art: str) -> None:
    ok(gitreg(repo, "register", "m", art))
    _hand_edit_secret(repo)
    proc = gitreg(repo, "check")
    assert proc.returncode == 1
    assert "models/m/versions/1.yaml:" in proc.stdout + proc.stderr
    assert "tags/note looks like it holds an AWS access key (AKIA…REDACTED)" in proc.stdout
    assert "AKIAABCDEFGHIJKLMNOP" not in proc.stdout + proc.stderr


def test_check_base_scans_a_pull_requests_manifests_for_secrets(repo: Path, art: str) -> None:
    ok(gitreg(repo, "register", "m", art))
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "-c", "pr")
    _hand_edit_secret(repo)
    git(repo, "commit", "-qam", "sneak a key in")
    proc = gitreg(repo, "check", "--base", base)
    assert proc.returncode != 0
    assert "looks like it holds an AWS access key" in proc.stdout + proc.stderr


# --- 5. names equal but for case, and names Windows cannot hold -------------------------


def test_name_equal_but_for_case_is_refused_in_register_create_and_rename(
    repo: Path, art: str
) -> None:
    ok(gitreg(repo, "register", "m", art))
    ok(gitreg(repo, "register", "n", art))
    said = (
        "gitreg: error: a model named 'm' already exists, and 'M' differs from it only in "
        "case: on macOS and Windows both would share one folder; pick another name"
    )
    assert refused(gitreg(repo, "register", "M", art)) == said
    from gitreg import Registry
    from gitreg.errors import AlreadyExists

    with pytest.raises(AlreadyExists) as caught:
        Registry(repo).create_model("M")
    assert f"gitreg: error: {caught.value}" == said
    assert refused(gitreg(repo, "rename", "n", "M")) == said
    assert sorted(os.listdir(repo / "models")) == [".gitkeep", "m", "n"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("abc.", "Windows drops a trailing dot"),
        ("CON", "CON is a device name Windows reserves"),
        ("nul.model", "nul is a device name Windows reserves"),
        ("com1", "com1 is a device name Windows reserves"),
        ("LPT9", "LPT9 is a device name Windows reserves"),
    ],
)
def test_names_windows_cannot_hold_are_refused_with_why(
    repo: Path, art: str, name: str, why: str
) -> None:
    line = refused(gitreg(repo, "register", name, art), code=2)
    assert line.startswith(f"gitreg: error: invalid model name {name!r}: {why}"), line
    assert os.listdir(repo / "models") == [".gitkeep"]


# --- 6. a models symlink (or any non-regular gitreg path) fails check --base ------------


@pytest.mark.parametrize("path", ["models", "gitreg.yaml"])
def test_symlinked_registry_path_in_a_pull_request_fails_check_base(
    repo: Path, art: str, tmp_path: Path, path: str
) -> None:
    ok(gitreg(repo, "register", "m", art))
    base = git(repo, "rev-parse", "HEAD").strip()
    elsewhere = tmp_path / "elsewhere"
    git(tmp_path, "clone", "-q", str(repo), str(elsewhere))
    git(repo, "switch", "-q", "-c", "pr")
    git(repo, "rm", "-rq", path)
    os.symlink(elsewhere / path, repo / path)
    git(repo, "add", path)
    git(repo, "commit", "-qm", f"{path} now points elsewhere")
    proc = gitreg(repo, "check", "--base", base)
    assert proc.returncode != 0, proc.stdout
    assert (
        f"{path}: a symbolic link; gitreg reads {path}, so it must be a regular file or folder"
        in proc.stdout + proc.stderr
    )


# --- 7. --at before the registry's first commit has no answer ---------------------------


@pytest.mark.parametrize("date", ["1970-01-01", "1972-06-30", "2000-01-01"])
def test_resolve_at_a_date_before_the_first_commit_says_there_is_no_answer(
    repo: Path, art: str, date: str
) -> None:
    ok(gitreg(repo, "register", "m", art))
    assert refused(gitreg(repo, "resolve", "models:/m/latest", "--at", date)) == (
        "gitreg: error: the registry has no commit at or before that date "
        "(its first commit is later)"
    )
    assert ok(gitreg(repo, "resolve", "models:/m/latest", "--at", "2999-01-01"))


# --- 9. a write killed half-way is never visible; 10. a stale index.lock is cleared ------


def crash(repo: Path, *args: str, at: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GITREG_CRASH_AT": at}
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr


def test_a_register_killed_half_way_is_never_read_nor_its_number_reused(
    repo: Path, art: str, tmp_path: Path
) -> None:
    ok(gitreg(repo, "register", "m", art))
    other = tmp_path / "other.bin"
    other.write_bytes(b"other bytes")
    # killed with every file written, before the commit: versions/2.yaml is on disk
    crash(repo, "register", "m", str(other), at="before_commit")
    assert (repo / "models/m/versions/2.yaml").exists()
    first = ok(gitreg(repo, "resolve", "models:/m/1"))
    assert ok(gitreg(repo, "resolve", "models:/m/latest")) == first
    assert not (repo / "models/m/versions/2.yaml").exists()  # the reader undid it first
    third = tmp_path / "third.bin"
    third.write_bytes(b"third bytes")
    ok(gitreg(repo, "register", "m", str(third)))
    assert "third.bin" in ok(gitreg(repo, "resolve", "models:/m/2"))
    assert git(repo, "status", "--porcelain") == ""


def test_stale_index_lock_left_by_a_kill_inside_git_is_cleared(repo: Path, art: str) -> None:
    ok(gitreg(repo, "register", "m", art))
    crash(repo, "register", "m", art, at="before_replace:2")
    index_lock = repo / ".git/index.lock"  # what git killed mid-commit leaves behind
    index_lock.write_bytes(b"")
    os.utime(index_lock, (os.path.getmtime(index_lock) + 5,) * 2)  # after the journal ...
    past = os.path.getmtime(repo / ".git/gitreg-journal")
    os.utime(repo / ".git/gitreg-journal", (past - 60, past - 60))  # ... both a while ago
    os.utime(index_lock, (past - 55, past - 55))
    assert "version 2" in ok(gitreg(repo, "register", "m", art))
    assert not index_lock.exists()
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "fsck", "--strict"], cwd=repo, check=True, capture_output=True)


def test_a_live_gits_index_lock_is_left_alone(repo: Path, art: str) -> None:
    """While a git process works in the repository (someone's ``git commit`` waiting for
    its editor, say), an index.lock is its own, however old: gitreg refuses rather than
    take it away."""
    ok(gitreg(repo, "register", "m", art))
    index_lock = repo / ".git/index.lock"
    index_lock.write_bytes(b"")
    os.utime(index_lock, (time.time() - 60,) * 2)
    live = subprocess.Popen(  # a git that stays alive in the repository
        ["git", "cat-file", "--batch"], cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        refused(gitreg(repo, "register", "m", art))
        assert index_lock.exists()
    finally:
        live.kill()
        live.wait()


def test_gitregs_own_lock_file_is_never_cleared(repo: Path, art: str) -> None:
    """Only git's lock files are judged stale: removing gitreg's flock file while it is held
    would let a second process lock a new file beside it."""
    ok(gitreg(repo, "register", "m", art))
    own = repo / ".git/gitreg.lock"
    os.utime(own, (time.time() - 60,) * 2)
    inode = own.stat().st_ino
    ok(gitreg(repo, "register", "m", art))
    assert own.stat().st_ino == inode


def test_a_ref_lock_left_by_a_killed_git_is_cleared(repo: Path, art: str) -> None:
    ok(gitreg(repo, "register", "m", art))
    stale = repo / ".git/refs/heads/main.lock"  # what a kill inside update-ref leaves
    stale.write_text(git(repo, "rev-parse", "HEAD"))
    os.utime(stale, (time.time() - 60,) * 2)
    assert "version 2" in ok(gitreg(repo, "register", "m", art))
    assert not stale.exists()


# --- kill -9 at random points of register --push ----------------------------------------


def test_kill_at_random_points_of_register_push_leaves_nothing_to_trip_on(
    two_clones: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    import hashlib
    import json
    import random
    import signal
    import time

    remote, a, _b = two_clones
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GITREG_CRASH_AT", None)
    rng = random.Random(19)
    acknowledged: dict[int, str] = {}  # version -> sha256 of the bytes registered
    killed = 0
    for trial in range(30):
        art = tmp_path / f"art{trial}.bin"
        art.write_bytes(f"trial {trial}".encode())
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitreg", "--repo", str(a), "register", "m", str(art), "--push"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # the kill takes its git children too: a kill inside git
        )
        try:
            out, _err = proc.communicate(timeout=rng.uniform(0.05, 0.9))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            killed += 1
            time.sleep(0.05)
            continue
        if proc.returncode == 0:
            number = int(out.split("version ")[1].split()[0])
            acknowledged[number] = hashlib.sha256(art.read_bytes()).hexdigest()
    # a reader and the next write find nothing to trip on
    ok(gitreg(a, "resolve", "models:/m/latest"))
    final = tmp_path / "final.bin"
    final.write_bytes(b"final")
    ok(gitreg(a, "register", "m", str(final), "--push"))
    ok(gitreg(a, "push"))
    assert git(a, "status", "--porcelain") == ""
    for where in (a, remote):
        subprocess.run(["git", "fsck", "--strict"], cwd=where, check=True, capture_output=True)
    listing = json.loads(ok(gitreg(a, "show", "m", "--json")))
    assert killed and acknowledged, (killed, acknowledged)
    for number, digest in acknowledged.items():
        on_remote = git(remote, "show", f"main:models/m/versions/{number}.yaml")
        assert f"sha256:{digest}" in on_remote, number
    numbers = [v["version"] for v in listing["versions"]]
    assert numbers == sorted(set(numbers))


# --- 8. a symlinked cache entry is dropped and fetched again; a symlinked store file is a
# MISMATCH, not an ERROR --------------------------------------------------------------


def test_symlinked_cache_entry_is_dropped_and_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from gitreg import store

    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "m.bin"
    src.write_bytes(os.urandom(3000))
    ref = store.upload(src, f"memory://gitreg-{uuid.uuid4().hex}", "m")
    assert not store.cached_download(ref, tmp_path / "a.bin")
    entry = store.cache_entry(ref)
    entry.unlink()
    (tmp_path / "planted").write_bytes(src.read_bytes())
    entry.symlink_to(tmp_path / "planted")
    assert not store.cached_download(ref, tmp_path / "b.bin")  # fetched from the store
    assert (tmp_path / "b.bin").read_bytes() == src.read_bytes()
    assert entry.is_file() and not entry.is_symlink()
    assert store.cached_download(ref, tmp_path / "c.bin")  # and cached again


def test_symlinked_store_file_verifies_as_mismatch(repo: Path, art: str, tmp_path: Path) -> None:
    import json

    ok(gitreg(repo, "register", "m", art))
    uri = ok(gitreg(repo, "resolve", "models:/m/1")).strip()
    stored = Path(uri.removeprefix("file://"))
    copy = tmp_path / "same-bytes.bin"
    copy.write_bytes(stored.read_bytes())
    stored.chmod(0o644)
    stored.unlink()
    stored.symlink_to(copy)
    proc = gitreg(repo, "verify", "models:/m/1", "--json")
    assert proc.returncode not in (0, 3, 5), (proc.returncode, proc.stdout, proc.stderr)
    assert "MISMATCH" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)


def test_a_push_killed_with_the_git_that_served_it_does_not_block_the_next(
    two_clones: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """A remote on this machine keeps the ref locks of a push killed together with its
    receive-pack; they are cleared as gitreg clears its own, and the next push lands."""
    remote, a, _b = two_clones
    for name in ("refs/heads/main.lock", "HEAD.lock"):
        (remote / name).write_text("")
        os.utime(remote / name, (time.time() - 60, time.time() - 60))
    art = tmp_path / "m.bin"
    art.write_bytes(b"m")
    started = time.monotonic()
    ok(gitreg(a, "register", "m", str(art), "--push"))
    assert time.monotonic() - started < 15
    assert not (remote / "refs/heads/main.lock").exists()
    assert git(a, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


def test_a_live_gits_lock_in_the_remote_is_left_alone(
    two_clones: tuple[Path, Path, Path],
) -> None:
    """While a git works in the remote (another client's push being served, say), its ref
    lock is its own, however old; once none does, the stale lock goes."""
    remote, _a, _b = two_clones

    def clear(url: str) -> None:  # in another process: a git this one started is its own
        code = f"from gitreg.repo import lock; lock.clear_remote_locks({url!r})"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=30)

    ref_lock = remote / "refs/heads/main.lock"
    ref_lock.write_text("")
    os.utime(ref_lock, (time.time() - 60,) * 2)
    live = subprocess.Popen(  # a git that stays alive in the remote
        ["git", "cat-file", "--batch"], cwd=remote, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        clear(remote.as_uri())
        assert ref_lock.exists()
    finally:
        live.kill()
        live.wait()
    clear("git@example.com:acme/registry.git")  # not on this machine
    assert ref_lock.exists()
    clear(remote.as_uri())
    assert not ref_lock.exists()
