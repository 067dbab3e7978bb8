"""The public API over one registry repository: ``Registry`` (reads and writes the work
tree) and ``RegistryView`` (reads only; what ``Registry.at(ref|date)`` returns)."""

from typing import TYPE_CHECKING, Any

from gitreg.query.reader import find_root
from gitreg.registry.view import RegistryView

if TYPE_CHECKING:
    from gitreg.registry.writes import Registry


def __getattr__(name: str) -> Any:
    if name == "Registry":  # loaded on first use: read commands never need the writes
        # the writes load on first use; reads start without them
        from gitreg.registry.writes import Registry  # noqa: PLC0415

        return Registry
    raise AttributeError(f"module 'gitreg.registry' has no attribute {name!r}")


__all__ = ["Registry", "RegistryView", "find_root"]
