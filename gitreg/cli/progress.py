"""Progress on stderr for transfers and hashes: tqdm's bar, only on a terminal, only past
a few MB, never with ``--quiet``.

``GITREG_PROGRESS=always|never`` overrides the terminal test (``auto`` is the default), so
a pipeline can keep the bar and a test can see it. A total of 0 means "unknown": the bar
then shows bytes and speed without a percentage. tqdm is imported only once a transfer
passes the threshold, so a command that moves nothing never loads it.

The library reports progress as a plain byte count (``progress=`` callables through
``gitreg.store``), so this module drives tqdm itself rather than through fsspec's
``TqdmCallback``: the same bar, and fsspec keeps its one home in ``gitreg.store``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

import click

THRESHOLD = 4 << 20  # smaller transfers finish before a bar would be read
INTERVAL = 0.1  # seconds between redraws
F = TypeVar("F", bound=Callable[..., Any])


def quiet_option(f: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr.")(f)


class Bar:
    """Counts bytes; past ``THRESHOLD`` draws them with tqdm on ``out``
    (``label: 42%|####  | 420MB/1.00GB [00:02<00:03, 210MB/s]``)."""

    def __init__(self, label: str, total: int, out: IO[str]) -> None:
        self.label, self.total, self.out = label, total, out
        self.done = 0
        self.tqdm: Any = None  # made when the count first passes the threshold

    def __call__(self, n: int) -> None:
        self.done += n
        if self.tqdm is not None:
            self.tqdm.update(n)
        elif max(self.total, self.done) >= THRESHOLD:
            # the first transfer big enough to show pays for it
            from tqdm import tqdm  # noqa: PLC0415

            self.tqdm = tqdm(
                desc=self.label,
                total=self.total or None,
                initial=self.done,
                file=self.out,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                mininterval=INTERVAL,
                dynamic_ncols=True,
                leave=True,
            )

    def finish(self, ok: bool) -> None:
        """Complete the bar (one drawn ends at 100% on success) and end its line; a bar
        never drawn writes nothing."""
        if self.tqdm is None:
            return
        if ok and self.total and self.tqdm.n < self.total:
            self.tqdm.update(self.total - self.tqdm.n)  # e.g. an upload the store already had
        self.tqdm.close()


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
    bar = Bar(label, total, sys.stderr)
    ok = False
    try:
        yield bar
        ok = True
    finally:
        bar.finish(ok)
