"""Break-glass: ``gitreg rollback NAME --emergency --reason TEXT``. Where gitreg.yaml says
``break_glass: {allowed: true}``, the previous holder of a protected stage or alias (only
a version that held it before, never a new one) is restored straight on the default
branch, the reason in a ``Gitreg-Emergency:`` trailer. ``gitreg audit`` reports the commit
as an emergency change awaiting review (exit 4) until it is accepted.
"""

from __future__ import annotations

from gitreg.errors import PolicyError, UsageError
from gitreg.files.records import dump_record, version_files
from gitreg.layout import model_path
from gitreg.promotion import aliases
from gitreg.promotion.plan import stage_change
from gitreg.promotion.propose import previous_holder
from gitreg.query.reader import Reader

TRAILER = "Gitreg-Emergency"


def plan(
    reader: Reader, name: str, reason: str, *, stage: str = "Production", alias: str | None = None
) -> tuple[str, dict[str, bytes | None]]:
    """The commit message and files of an emergency rollback, or a PolicyError/UsageError."""
    cfg = reader.config
    reason = " ".join(reason.split())
    if not cfg.break_glass:
        raise PolicyError(
            "gitreg.yaml does not allow break-glass (break_glass: {allowed: true}); "
            "run gitreg rollback without --emergency to prepare a pull request"
        )
    if not reason:
        raise UsageError("an emergency rollback needs --reason: say what is burning")
    branch = reader.git.current_branch()
    if branch != cfg.default_branch:
        raise UsageError(
            f"an emergency rollback commits on {cfg.default_branch}; check it out first "
            f"(the current branch is {branch or 'detached'})"
        )
    if alias is not None:
        version = aliases.previous(reader, name, alias)
        model = reader.get_model(name)
        was = model.aliases.get(alias)
        files: dict[str, bytes | None] = {
            model_path(name): dump_record(
                model.evolve(aliases={**model.aliases, alias: version}).to_dict(), "model"
            )
        }
        title = f"{name}: alias {alias} v{was} -> v{version} (emergency rollback)"
    else:
        version = previous_holder(reader, name, stage)
        mv = reader.get_version(name, version)
        changed, message = stage_change(
            reader, mv, cfg.canonical_stage(stage), archive_existing=True, rollback=True
        )
        files = dict(version_files(changed))
        title = message.replace("(rollback)", "(emergency rollback)")
    return f"{title}\n\n{TRAILER}: {reason}", files
