"""gitreg next to MLflow (SQLite store) and GTO on the same workload (workload.py), one
table of whole-process medians and ratios (peer time / gitreg time; above 1 = gitreg is
faster). The peers live in their own virtual environments under bench/.peers, created
here on first use; a peer that cannot be installed shows "skipped: <why>".

    python bench/run.py --sizes 1000,10000,100000 [--peers MLflow,GTO] [--no-peers] [--runs 5]
                        [--keep DIR]

Sizes count versions (ten a model). Times are ms of wall clock, medians of --runs runs
after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402
from fastimport import GIT_ENV  # noqa: E402
from workload import model_name, split  # noqa: E402

PEERS = HERE / ".peers"
PEER_PACKAGES = {"mlflow": ["mlflow-skinny", "sqlalchemy", "alembic"], "gto": ["gto"]}
OPS = [
    "resolve @champion",
    "resolve /Production (stage scan)",
    "register (no upload)",
    "search all versions (--json)",
    "search name = 'x'",
    "list models",
    "Registry.register in-process",
    "search all, in-process warm",
    "search name = 'x', in-process warm",
    "first query after clone (index build)",
    "check --base, PR touching one model",
    "peak memory of read commands",
    "search metrics filter, top 10",
    "search all versions (table)",
]
INPROC = {OPS[6]: "register", OPS[7]: "search-all", OPS[8]: "search-name"}
TOP10 = ["--order-by", "metrics.val_auc DESC", "--max-results", "10"]
GTO_MAX = 10_000  # GTO took 54 s a command at 10,000 versions; 100,000 would take hours
Cell = float | str  # ms, or why there is no figure


def peer_python(name: str) -> tuple[Path | None, str]:
    """The Python of peer ``name``'s own venv, created and filled on first use."""
    venv = PEERS / name
    python = venv / "bin" / "python"
    if (venv / ".ready").exists():
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES[name]],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return None, f"skipped: pip install failed ({tail[0][:60]})"
    except subprocess.TimeoutExpired:
        return None, "skipped: pip install took over 15 minutes"
    (venv / ".ready").touch()
    return python, ""


def whole(
    cmd: list[str],
    runs: int,
    env: dict[str, str],
    before: Callable[[], None] | None = None,
    timeout: float = 300,
    warmup: bool = True,
) -> Cell:
    """Median wall ms of ``cmd`` (``before`` runs untimed ahead of each run)."""
    samples = []
    try:
        for i in range(runs + 1 if warmup else runs):
            if before:
                before()
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=timeout)
            if i or not warmup:
                samples.append((time.perf_counter() - t0) * 1000)
    except subprocess.TimeoutExpired:
        return f"over {timeout:.0f} s"
    except subprocess.CalledProcessError as e:
        return f"failed: {(e.stderr or b'').decode().strip().splitlines()[-1:]}"
    return statistics.median(samples)


def peak_mb(cmd: list[str], env: dict[str, str]) -> float:
    """The peak RSS of one run of ``cmd``: its own (getrusage's RUSAGE_CHILDREN would
    give the largest of every child so far, git fast-import's included)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return usage.ru_maxrss / 1024


def bench_gitreg(root: Path, art: str, runs: int, env: dict[str, str]) -> dict[str, Cell]:
    from gitreg import Registry

    g = [sys.executable, "-m", "gitreg", "--repo", str(root)]
    m = model_name(0)
    from gitreg.query.index import FILE

    index = root / ".git" / "gitreg" / FILE
    reads = {
        OPS[0]: [*g, "resolve", f"models:/{m}@champion"],
        OPS[1]: [*g, "resolve", f"models:/{m}/Production"],
        OPS[3]: [*g, "search", "--json"],
        OPS[4]: [*g, "search", f"name = '{m}'"],
        OPS[5]: [*g, "list"],
        OPS[12]: [*g, "search", "metrics.val_auc > 0.9", *TOP10],
        OPS[13]: [*g, "search"],
    }
    out: dict[str, Cell] = {op: whole(cmd, runs, env) for op, cmd in reads.items()}
    peak = max(peak_mb(cmd, env) for cmd in reads.values())

    def drop_index() -> None:  # what a fresh clone has: no .git/gitreg at all
        for suffix in ("", "-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)

    out[OPS[9]] = whole([*g, "list"], min(runs, 3), env, before=drop_index, warmup=False)
    out[OPS[10]] = check_base(root, g, m, runs, env)
    out[OPS[2]] = whole([*g, "register", m, art, "-q"], runs, env)
    out[OPS[11]] = f"{peak:,.0f} MB"
    reg = Registry(root)
    calls = {
        OPS[6]: lambda: reg.register(m, art),
        OPS[7]: lambda: reg.search_versions(""),
        OPS[8]: lambda: reg.search_versions(f"name = '{m}'"),
    }
    for op, call in calls.items():
        samples = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            call()
            if i:
                samples.append((time.perf_counter() - t0) * 1000)
        out[op] = statistics.median(samples)
    return out


def check_base(root: Path, g: list[str], m: str, runs: int, env: dict[str, str]) -> Cell:
    """``check --base main`` on a branch that moves one version of one model to Staging,
    as a pull request would; the work tree goes back to main afterwards."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)

    git("checkout", "-q", "-b", "bench-pr")
    subprocess.run([*g, "transition", m, "1", "Staging"], check=True, capture_output=True, env=env)
    try:
        return whole([*g, "check", "--base", "main"], runs, env)
    finally:
        git("checkout", "-q", "main")
        git("branch", "-q", "-D", "bench-pr")


def bench_mlflow(
    tmp: Path, models: int, per: int, runs: int, env: dict[str, str], keep: Path | None
) -> dict[str, Cell]:
    python, why = peer_python("mlflow")
    if python is None:
        return dict.fromkeys(OPS, why)
    db = str(tmp / "mlflow.sqlite")
    helper = [str(python), str(HERE / "peer_mlflow.py")]
    kept = None if keep is None else keep / f"mlflow-{models * per}.sqlite"
    if kept is None or not kept.exists():
        t0 = time.perf_counter()
        populate = [*helper, "populate", db, str(models), str(per)]
        subprocess.run(populate, check=True, env=env, capture_output=True)
        took = time.perf_counter() - t0
        print(f"MLflow {models * per:,} versions filled in {took:.0f} s", file=sys.stderr)
        if kept is not None:
            shutil.copyfile(db, kept)
    else:  # a copy: the timed register adds versions
        shutil.copyfile(kept, db)
    m = model_name(0)
    out: dict[str, Cell] = dict.fromkeys(OPS, "n/a")
    commands = ["resolve", "register", "search-all", "search-name", "list"]
    for op, cmd in zip([OPS[0], *OPS[2:6]], commands, strict=True):
        out[op] = whole([*helper, cmd, db, m], runs, env)
    for op, what in INPROC.items():
        got = subprocess.run(
            [*helper, "inproc", db, m, what, str(max(runs, 5))],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        out[op] = float(got.stdout.split()[-1])
    return out


def bench_gto(tmp: Path, models: int, per: int, runs: int, env: dict[str, str]) -> dict[str, Cell]:
    python, why = peer_python("gto")
    if python is None:
        return dict.fromkeys(OPS, why)
    repo = tmp / "gto"
    subprocess.run(
        [str(python), str(HERE / "peer_gto.py"), "populate", str(repo), str(models), str(per)],
        check=True,
        env=env,
        capture_output=True,
    )
    gto_bin = str(python.parent / "gto")
    m = model_name(0)
    # GTO re-reads every tag on each command (tens of seconds at 10,000 versions): past
    # 2,000 versions one run each, no warm-up, so a size stays within minutes.
    runs, warm = (min(runs, 3), True) if models * per <= 2000 else (1, False)

    def new_commit() -> None:
        subprocess.run(
            ["git", "commit", "-q", "--allow-empty", "-m", "train"], cwd=repo, check=True, env=env
        )

    def t(args: list[str], before: Callable[[], None] | None = None) -> Cell:
        return whole([gto_bin, *args, "-r", str(repo)], runs, env, before, warmup=warm)

    return {
        **dict.fromkeys(OPS, "n/a"),
        OPS[0]: t(["show", f"{m}#prod", "--ref"]),
        OPS[2]: t(["register", m, "HEAD"], new_commit),
        OPS[3]: "n/a: no such query",
        OPS[4]: t(["show", m, "--plain"]),
        OPS[5]: t(["show", "--plain"]),
    }


def registry(dest: Path, size: int, keep: Path | None, env: dict[str, str]) -> None:
    """A gitreg registry of ``size`` versions at ``dest``: built, or cloned from ``keep``
        (100,000 versions take minutes to build, so a kept one can be reused; MLflow's
    database too, as ``mlflow-<size>.sqlite``)."""
    models, per = split(size)
    t0 = time.perf_counter()
    if keep is None:
        gen.build(dest, models, per)
    else:
        kept = keep / f"gitreg-{size}"
        if not kept.exists():
            gen.build(kept, models, per)
        subprocess.run(["git", "clone", "-q", str(kept), str(dest)], check=True, env=env)
    print(f"{size:,} versions: registry ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def fmt(cell: Cell, base: Cell | None = None) -> str:
    if isinstance(cell, str):
        return cell
    text = f"{cell:,.0f} ms" if cell >= 10 else f"{cell:.1f} ms"
    if base is not None and not isinstance(base, str) and base > 0:
        text += f" ({cell / base:,.1f}x)"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="versions, comma-separated")
    ap.add_argument("--with-100k", action="store_true", help="also 100,000 versions")
    ap.add_argument("--no-peers", action="store_true", help="time gitreg alone")
    ap.add_argument("--peers", default="MLflow,GTO", help="which peers, comma-separated")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="build registries here once and reuse them")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([100_000] if args.with_100k else [])
    # A real install has .pyc files; with this set every process compiles every module.
    dont_write = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, **GIT_ENV}
    os.environ.update(GIT_ENV)
    peers = [] if args.no_peers else [p for p in ("MLflow", "GTO") if p in args.peers.split(",")]
    rows: list[list[str]] = []
    for size in sizes:
        models, per = split(size)
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            art_file = tmp / "model.bin"
            art_file.write_bytes(b"\0" * 4096)
            reg = tmp / "reg"
            registry(reg, size, args.keep, env)
            results = {"gitreg": bench_gitreg(reg, art_file.as_uri(), args.runs, env)}
            if "MLflow" in peers:
                results["MLflow"] = bench_mlflow(tmp, models, per, args.runs, env, args.keep)
            if "GTO" in peers and size > GTO_MAX:
                results["GTO"] = dict.fromkeys(OPS, "skipped: over 10 min a command")
            elif "GTO" in peers:
                results["GTO"] = bench_gto(tmp, models, per, args.runs, env)
        for op in OPS:
            base = results["gitreg"][op]
            row = [op, f"{size:,}", fmt(base)]
            row += [fmt(results[p][op], base) for p in peers]
            rows.append(row)
    header = ["operation", "versions", "gitreg", *peers]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    load = os.getloadavg()[0]
    print(
        f"\n{os.cpu_count()} cores, load {load:.2f}; whole-process medians of {args.runs} runs; "
        f"(Nx) = peer time / gitreg time"
    )
    if "GTO" in peers and max(sizes) > 2000:
        print("GTO past 2,000 versions: one run, no warm-up (each command re-reads every tag)")
    if dont_write:
        print("PYTHONDONTWRITEBYTECODE was set; unset for the timed processes (.pyc files kept)")


if __name__ == "__main__":
    main()
