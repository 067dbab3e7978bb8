"""``gitreg init``: a new registry repository from the bundled registry-template."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from gitreg.errors import AlreadyExists, GitError
from gitreg.files import schema
from gitreg.repo.git import Git


def template_dir() -> Path:
    """registry-template/, inside the wheel or beside the package in a source checkout."""
    bundled = Path(str(resources.files("gitreg"))) / "registry-template"
    return (
        bundled if bundled.is_dir() else Path(__file__).resolve().parents[2] / "registry-template"
    )


def init_registry(path: Path, store: str | None = None, branch: str = "main") -> str:
    """Create (or turn an existing git repository into) a registry; returns the commit."""
    if (path / "gitreg.yaml").exists():
        raise AlreadyExists(f"{path} is already a gitreg registry")
    if path.exists() and any(p.name != ".git" for p in path.iterdir()):
        raise AlreadyExists(f"{path} is not empty; choose a new folder")
    git = Git(path) if (path / ".git").exists() else Git.init(path, branch)
    git.ident()  # fail before writing anything if git does not know the user
    # Each write then rewrites only the index entries it changed (see repo.commit).
    git.set_config("core.splitIndex", "true")
    shutil.copytree(template_dir(), path, dirs_exist_ok=True)
    schemas = path / ".gitreg" / "schemas"
    schemas.mkdir(parents=True, exist_ok=True)
    for kind in schema.KINDS:
        (schemas / schema.schema_filename(kind)).write_text(schema.schema_text(kind))
    if store:
        cfg = path / "gitreg.yaml"
        text = cfg.read_text().replace("store: file://../registry-artifacts", f"store: {store}")
        cfg.write_text(text)
    try:
        return git.commit(["."], "init gitreg registry")
    except GitError as e:
        raise GitError(f"could not make the first commit in {path}: {e}") from None
