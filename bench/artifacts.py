"""Artifact figures: sha256 throughput against `sha256sum` on the same file, and upload /
download of a folder of N files to a moto S3 server this script starts on 127.0.0.1, with
the client's peak RSS (each transfer runs in a fresh process, so the peak is its own).

    python bench/artifacts.py [--hash-size 1GiB] [--folders 256MiB/25,256MiB/100,1GiB/100]

Peak memory is bounded by the parallel workers x the part/read-ahead size (8 MiB), so it
grows with the size of the *files* up to that cap, never with the artifact's total size:
compare 256MiB/25 with 1GiB/100 (10 MiB files both).

Everything is written under a temporary folder (--tmp) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1 << 20
BUCKET = "gitreg-bench"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1",
}


def size(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*(B|KiB|MiB|GiB)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (e.g. 256MiB, 1GiB)")
    return int(m[1]) * {"B": 1, "KiB": 1 << 10, "MiB": MIB, "GiB": 1 << 30}[m[2] or "B"]


def write_random(path: Path, n: int) -> None:
    block = os.urandom(4 * MIB)  # incompressible; repeated blocks do not help sha256
    with open(path, "wb") as f:
        for _ in range(n // len(block)):
            f.write(block)
        f.write(os.urandom(n % len(block)))


def rate(n: int, seconds: float) -> str:
    return f"{n / MIB / seconds:7.1f} MiB/s"


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_hash(tmp: Path, n: int, runs: int) -> None:
    from gitreg import store

    path = tmp / "hash.bin"
    write_random(path, n)
    try:
        subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)  # warm cache
        ours = best_of(runs, lambda: store.describe_local(path))
        theirs = best_of(
            runs, lambda: subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
        )
    finally:
        path.unlink()
    print(f"sha256 {n / MIB:.0f} MiB   gitreg {rate(n, ours)}   sha256sum {rate(n, theirs)}"
          f"   ratio {theirs / ours:.2f}x (best of {runs})")  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = (
        "from moto.server import ThreadedMotoServer; import time, sys;"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start();"
        "print('up', flush=True); sys.stdin.read()"
    )
    env = {**os.environ, **AWS_ENV, "TMPDIR": str(tmp)}
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # one log line per request
    )
    assert server.stdout is not None and server.stdout.readline() == b"up\n"
    endpoint = f"http://127.0.0.1:{port}"
    req = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
    urllib.request.urlopen(req, timeout=10).close()
    return server, endpoint


def transfer(step: str, arg: str, endpoint: str) -> None:
    """In a child process (so the peak RSS is this step's own): ``up`` uploads folder
    ``arg`` and prints its ref; ``down`` downloads the ref in file ``arg``. Prints JSON."""
    from gitreg import store
    from gitreg.manifest import ArtifactRef

    options = {"endpoint_url": endpoint}
    t0 = time.perf_counter()
    if step == "up":
        ref = store.upload(Path(arg), f"s3://{BUCKET}/models", "bench", options)
        out = {"ref": ref.to_dict()}
    else:
        ref = ArtifactRef.from_dict(json.loads(Path(arg).read_text()))
        store.download(ref, Path(arg).with_suffix(".out"), options)
        out = {}
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({**out, "bytes": ref.size, "seconds": seconds, "rss": peak_kib}))


def bench_transfer(tmp: Path, endpoint: str, n: int, files: int) -> None:
    folder = tmp / f"model-{n}-{files}"
    folder.mkdir()
    for i in range(files):
        write_random(folder / f"part-{i:03d}.bin", n // files + (i < n % files))
    env = {**os.environ, **AWS_ENV}

    def step(*args: str) -> dict[str, Any]:
        cmd = [sys.executable, __file__, "_transfer", *args, endpoint]
        done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    try:
        up = step("up", str(folder))
        (tmp / "ref.json").write_text(json.dumps(up["ref"]))
        down = step("down", str(tmp / "ref.json"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(tmp / "ref.out", ignore_errors=True)
    print(f"s3 {n / MIB:5.0f} MiB in {files:3d} files"
          f"   upload {rate(n, up['seconds'])}, peak RSS {up['rss'] / 1024:4.0f} MiB"
          f"   download {rate(n, down['seconds'])}, peak RSS {down['rss'] / 1024:4.0f} MiB"
          )  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["_transfer"]:
        transfer(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hash-size", type=size, default=1 << 30)
    p.add_argument(
        "--folders",
        default="256MiB/25,256MiB/100,1GiB/100",
        help="comma-separated SIZE/FILES (same file size, 4x the artifact: same memory)",
    )
    p.add_argument("--runs", type=int, default=3, help="hash runs (best is shown)")
    p.add_argument("--tmp", type=Path, default=None, help="where the data goes (deleted after)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gitreg-bench-", dir=args.tmp))
    server = None
    try:
        bench_hash(tmp, args.hash_size, args.runs)
        server, endpoint = start_moto(tmp)
        for spec in args.folders.split(","):
            n, _, files = spec.partition("/")
            bench_transfer(tmp, endpoint, size(n), int(files or 100))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
