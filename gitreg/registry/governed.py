"""The writes policy sends through review: a transition, a protected alias move or a
rollback prepared as a branch and a pull request (``promotion.propose``,
``promotion.aliases``), and the break-glass rollback straight on the default branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitreg.registry.view import RegistryView

if TYPE_CHECKING:
    from gitreg.promotion.propose import Proposal


class Governed(RegistryView):
    """``Registry``'s reviewed writes (a mixin: ``Registry`` is the one facade)."""

    def _writable(self) -> None:
        raise NotImplementedError  # Registry's

    def _commit_files(self, message: str, files: dict[str, bytes | None]) -> str:
        raise NotImplementedError  # Registry's, through its commit engine

    def emergency_rollback(
        self, name: str, reason: str, *, stage: str = "Production", alias: str | None = None
    ) -> str:
        """Break-glass: restore the previous holder of ``stage`` (or ``alias``) straight on
        the default branch with the reason in a trailer; returns the commit. Refused
        unless gitreg.yaml has ``break_glass: {allowed: true}``."""
        from gitreg.promotion import emergency  # noqa: PLC0415 (only promotions need it)

        self._writable()
        message, files = emergency.plan(self, name, reason, stage=stage, alias=alias)
        return self._commit_files(message, files)

    def propose_transition(  # noqa: PLR0913 (keyword-only switches)
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        ignore_gates: bool = False,
        push: bool = True,
        open_pr: bool = True,
        message: str = "",
    ) -> Proposal:
        """Prepare a transition as a pull request: a branch from the default branch with the
        change (the work tree and current branch untouched), pushed, and the pull request
        opened where a forge is configured. Raises GatesFailed unless ``ignore_gates``.
        ``message`` goes into the commit body and the pull request's body."""
        from gitreg.promotion import propose  # noqa: PLC0415 (only promotions need it)

        self._writable()
        return propose.propose(
            self,
            name,
            version,
            stage,
            ignore_gates=ignore_gates,
            push=push,
            open_pr=open_pr,
            message=message,
        )

    def propose_rollback(
        self, name: str, stage: str = "Production", *, push: bool = True, open_pr: bool = True
    ) -> Proposal:
        """``propose_transition`` back to the version that held ``stage`` before."""
        from gitreg.promotion import propose  # noqa: PLC0415 (only promotions need it)

        self._writable()
        version = propose.previous_holder(self, name, stage)
        return propose.propose(self, name, version, stage, push=push, open_pr=open_pr)

    def propose_alias(  # noqa: PLR0913 (keyword-only switches)
        self,
        name: str,
        alias: str,
        version: int | str | None,
        *,
        ignore_gates: bool = False,
        push: bool = True,
        open_pr: bool = True,
    ) -> Proposal:
        """Move (``version`` None: delete) a protected alias through a pull request."""
        from gitreg.promotion import aliases  # noqa: PLC0415 (only promotions need it)

        self._writable()
        return aliases.propose(
            self, name, alias, version, ignore_gates=ignore_gates, push=push, open_pr=open_pr
        )

    def propose_alias_rollback(
        self, name: str, alias: str, *, push: bool = True, open_pr: bool = True
    ) -> Proposal:
        """``propose_alias`` back to the version the alias pointed at before."""
        from gitreg.promotion import aliases  # noqa: PLC0415 (only promotions need it)

        self._writable()
        version = aliases.previous(self, name, alias)
        return aliases.propose(
            self, name, alias, version, push=push, open_pr=open_pr, rollback=True
        )

    def alias_protected(self, name: str, alias: str) -> bool:
        """Whether gitreg.yaml sends moves of ``name``'s ``alias`` through a pull request."""
        from gitreg.promotion import aliases  # noqa: PLC0415 (only promotions need it)

        rule = aliases.rule_for(self, name, alias)
        return rule is not None and rule.via == "pull_request"

    def accept_finding(
        self, commit: str, reason: str, *, push: bool = True, open_pr: bool = True
    ) -> Proposal:
        """Propose accepting the audit finding(s) of ``commit`` (``.gitreg/audit.yaml``)."""
        from gitreg.promotion import acceptance  # noqa: PLC0415 (only promotions need it)

        self._writable()
        return acceptance.accept(self, commit, reason, push=push, open_pr=open_pr)
