"""What the benchmarks share: a `git fast-import` stream writer (one commit per operation,
built in memory and imported in one call, far faster than one git command per commit),
the fixed identity the benchmarks commit as, and the median timer of whole processes."""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
IDENT = "bench <bench@example.com>"
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z


class FastImport:
    """Commits appended to ``branch`` of the repository at ``root`` (on top of its HEAD),
    written by ``run()``. Commit ``n`` (1-based) is dated ``T0 + 60 n`` and carries a
    ``Gitreg-Op`` trailer, as gitreg's own commits do."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.root = root
        self.branch = branch
        self.base = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
        ).stdout.strip()
        self.count = 0
        self._out: list[bytes] = []

    def commit(self, message: str, files: dict[str, bytes | None]) -> int:
        """Append one commit writing (bytes) or deleting (None) ``files``; returns its mark."""
        self.count += 1
        n = self.count
        when = T0 + n * 60
        msg = f"{message}\n\nGitreg-Op: {n:032x}\n".encode()
        out = self._out
        out.append(f"commit refs/heads/{self.branch}\nmark :{n}\n".encode())
        out.append(f"author {IDENT} {when} +0000\ncommitter {IDENT} {when} +0000\n".encode())
        out.append(b"data %d\n%s" % (len(msg), msg))
        if n == 1:
            out.append(f"from {self.base}\n".encode())
        for path, data in files.items():
            if data is None:
                out.append(b"D %s\n" % path.encode())
            else:
                out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        out.append(b"\n")
        return n

    def tag(self, name: str, mark: int, message: str | None = None) -> None:
        """A lightweight tag (or an annotated one, with ``message``) at commit ``mark``."""
        if message is None:
            self._out.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())
            return
        when = T0 + mark * 60
        body = message.encode()
        self._out.append(
            f"tag {name}\nfrom :{mark}\ntagger {IDENT} {when} +0000\n".encode()
            + b"data %d\n%s\n" % (len(body), body)
        )

    def run(self, checkout: bool = True) -> None:
        """Import the stream; with ``checkout`` the work tree and index then match HEAD."""
        stream = b"".join(self._out)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=self.root, input=stream, check=True)
        self._out.clear()
        if checkout:
            subprocess.run(["git", "reset", "-q", "--hard", self.branch], cwd=self.root, check=True)


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, int]:
    """Median wall and CPU (user + system) time in ms of ``runs`` runs after one warm-up,
    and the lines printed. CPU time is the steadier figure on a busy machine."""
    rows = subprocess.run(cmd, check=True, capture_output=True, env=env, text=True).stdout
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        walls.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return statistics.median(walls), statistics.median(cpus), len(rows.splitlines())
