"""The benchmark scripts still run: the generator at a tiny size makes a registry gitreg
reads back as valid, and the runner prints its table. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitreg import Registry

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_generator_builds_a_valid_registry_with_one_commit_per_operation(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import gen
    finally:
        sys.path.remove(str(BENCH))
    commits = gen.build(tmp_path / "reg", models=3, per_model=5, jobs=1)
    reg = Registry(tmp_path / "reg")
    assert reg.check() == []
    assert len(reg.list_models()) == 3
    assert commits == 3 * (5 + 4)
    log = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"],
        cwd=tmp_path / "reg",
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(log.stdout) == commits + 1  # and the init commit
    champion = reg.resolve("models:/model-00001@champion")
    assert (champion.version, champion.stage) == (4, "Production")
    assert reg.get_version("model-00002", 5).stage == "Staging"
    assert reg.get_model("model-00000").tags == {"team": "team-0"}
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=tmp_path / "reg",
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""


def test_runner_prints_a_table_without_peers(tmp_path: Path) -> None:
    out = subprocess.run(
        # the smallest size the README's table gives
        [sys.executable, str(BENCH / "run.py"), "--sizes", "1000", "--no-peers", "--runs", "1"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("|")[1].strip() == "operation"
    rows = [line for line in lines if line.startswith("| ") and " ms" in line]
    assert len(rows) == 13  # and peak memory, in MB
    assert all("| 1,000 " in row for row in rows)


def test_serving_bench_prints_its_rows(tmp_path: Path) -> None:
    import os

    root = str(BENCH.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, str(BENCH / "serving.py"), "--versions", "40", "--models", "2",
         "--runs", "1", "--no-mlflow"],
        cwd=tmp_path, env=env, check=False, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.endswith(" ms")]
    assert len(rows) == 4 and "resolve --api" in rows[0]
