"""The public API over one registry repository: ``Registry`` (reads and writes the work
tree) and ``RegistryView`` (reads only; what ``Registry.at(ref|date)`` returns)."""

from gitreg.registry.view import (
    CONFIG,
    MODELS,
    RegistryView,
    dump_record,
    find_root,
    model_dir,
    model_path,
    version_files,
    version_path,
)
from gitreg.registry.writes import Registry

__all__ = [
    "CONFIG",
    "MODELS",
    "Registry",
    "RegistryView",
    "dump_record",
    "find_root",
    "model_dir",
    "model_path",
    "version_files",
    "version_path",
]
