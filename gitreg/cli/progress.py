"""Progress on stderr for transfers and hashes: one line redrawn in place, only on a
terminal, only past a few MB, never with ``--quiet``.

``GITREG_PROGRESS=always|never`` overrides the terminal test (``auto`` is the default), so
a pipeline can keep the bar and a test can see it. A total of 0 means "unknown": the line
then shows bytes and speed without a percentage.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

import click

THRESHOLD = 4 << 20  # smaller transfers finish before a bar would be read
INTERVAL = 0.1  # seconds between redraws
F = TypeVar("F", bound=Callable[..., Any])


def quiet_option(f: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr.")(f)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


class Bar:
    """Counts bytes; draws ``label  42%  420.0 MB / 1.0 GB  210.3 MB/s`` on ``out``."""

    def __init__(self, label: str, total: int, out: IO[str], *, clock: Callable[[], float]) -> None:
        self.label, self.total, self.out, self.clock = label, total, out, clock
        self.done, self.start, self.drawn_at, self.width = 0, clock(), 0.0, 0

    def __call__(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.drawn_at >= INTERVAL and max(self.total, self.done) >= THRESHOLD:
            self.draw(now)

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.start, 1e-6)
        size = _human(self.done)
        if self.total:
            shown = min(self.done, self.total)
            size = f"{min(100, shown * 100 // self.total):3d}%  {_human(shown)} / " + _human(
                self.total
            )
        return f"{self.label}  {size}  {_human(rate)}/s"

    def draw(self, now: float) -> None:
        text = self.line(now)
        self.out.write("\r" + text.ljust(self.width))
        self.out.flush()
        self.drawn_at, self.width = now, len(text)

    def finish(self, ok: bool) -> None:
        """Complete the line (a bar already drawn ends at 100% on success) and end it."""
        if not self.width:
            return
        if ok and self.total:
            self.done = max(self.done, self.total)  # e.g. an upload the store already had
        self.draw(self.clock())
        self.out.write("\n")
        self.out.flush()


def tree_size(path: str) -> int:
    """Bytes in a local file or folder (links not followed); 0 if it cannot be told."""
    total, stack = 0, [path]
    try:
        while stack:
            st = os.lstat(top := stack.pop())
            if os.path.isdir(top) and not os.path.islink(top):
                stack.extend(os.path.join(top, n) for n in os.listdir(top))
            elif not os.path.islink(top):
                total += st.st_size
    except OSError:
        return 0
    return total


def enabled(quiet: bool, stream: IO[str] | None = None) -> bool:
    if quiet:
        return False
    mode = os.environ.get("GITREG_PROGRESS", "auto").lower()
    if mode in ("always", "never"):
        return mode == "always"
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def progress(label: str, total: int, quiet: bool = False) -> Iterator[Callable[[int], None] | None]:
    """A byte-count callback for the library's ``progress=`` parameters, or None when no
    bar should be shown. The line is finished (or left as far as it got) on exit."""
    if not enabled(quiet):
        yield None
        return
    bar = Bar(label, total, sys.stderr, clock=time.monotonic)
    ok = False
    try:
        yield bar
        ok = True
    finally:
        bar.finish(ok)
