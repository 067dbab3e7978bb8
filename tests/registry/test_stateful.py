"""A stateful property test: random register / transition / alias / delete sequences on a
real registry, checked against a small in-memory model (reliability note §3.15): version
numbers unique and never reused, aliases resolve, at most one Production (exclusive), and
the manifests of past versions byte-identical unless a stage change touched them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gitreg.errors import Conflict, PolicyError
from gitreg.layout import version_path
from gitreg.registry import Registry
from gitreg.registry.template import init_registry

NAMES = ("a", "b")
STAGES = ("None", "Staging", "Production", "Archived")
CONFIG = """stages: [None, Staging, Production, Archived]
artifacts:
  store: file://../artifacts
  allowed: [file://]
promotion:
  Production:
    via: commit
    exclusive: true
"""


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="gitreg-stateful-"))
        root = self.tmp / "reg"
        init_registry(root)
        (root / "gitreg.yaml").write_text(CONFIG)
        self.reg = Registry(root)
        self.reg.git.run("commit", "-q", "-am", "policy")
        art = self.tmp / "model.bin"
        art.write_bytes(b"weights")
        self.artifact = art.as_uri()
        self.stages: dict[str, dict[int, str]] = {n: {} for n in NAMES}
        self.aliases: dict[str, dict[str, int]] = {n: {} for n in NAMES}
        self.issued: dict[str, set[int]] = {n: set() for n in NAMES}
        self.files: dict[tuple[str, int], bytes] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _snapshot(self, name: str, version: int) -> None:
        self.files[(name, version)] = (self.reg.root / version_path(name, version)).read_bytes()

    @rule(name=st.sampled_from(NAMES))
    def register(self, name: str) -> None:
        mv = self.reg.register(name, self.artifact)
        assert mv.version not in self.issued[name]
        assert mv.version == max(self.issued[name], default=0) + 1
        self.issued[name].add(mv.version)
        self.stages[name][mv.version] = "None"
        self._snapshot(name, mv.version)

    @precondition(lambda self: any(self.stages.values()))
    @rule(data=st.data(), stage=st.sampled_from(STAGES))
    def transition(self, data: st.DataObject, stage: str) -> None:
        name = data.draw(st.sampled_from([n for n in NAMES if self.stages[n]]))
        version = data.draw(st.sampled_from(sorted(self.stages[name])))
        if self.stages[name][version] == stage:
            try:
                self.reg.transition(name, version, stage)
            except Conflict:
                return
            raise AssertionError("a no-op transition was accepted")
        self.reg.transition(name, version, stage)
        if stage == "Production":
            for v, s in self.stages[name].items():
                if s == "Production":
                    self.stages[name][v] = "Archived"
                    self._snapshot(name, v)
        self.stages[name][version] = stage
        self._snapshot(name, version)

    @precondition(lambda self: any(self.stages.values()))
    @rule(data=st.data(), alias=st.sampled_from(("champion", "challenger")))
    def set_alias(self, data: st.DataObject, alias: str) -> None:
        name = data.draw(st.sampled_from([n for n in NAMES if self.stages[n]]))
        version = data.draw(st.sampled_from(sorted(self.stages[name])))
        self.reg.set_alias(name, alias, version)
        self.aliases[name][alias] = version

    @precondition(lambda self: any(self.stages.values()))
    @rule(data=st.data())
    def delete_version(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([n for n in NAMES if self.stages[n]]))
        version = data.draw(st.sampled_from(sorted(self.stages[name])))
        if self.stages[name][version] == "Production":
            try:
                self.reg.delete_version(name, version)
            except PolicyError:
                return
            raise AssertionError("a Production version was deleted")
        self.reg.delete_version(name, version)
        del self.stages[name][version]
        del self.files[(name, version)]
        self.aliases[name] = {a: v for a, v in self.aliases[name].items() if v != version}

    @invariant()
    def matches_the_model(self) -> None:
        for name in NAMES:
            if not self.issued[name]:
                continue
            assert self.reg.version_numbers(name) == sorted(self.stages[name])
            model = self.reg.get_model(name)
            assert model.aliases == self.aliases[name]
            assert model.last_version == max(self.issued[name])
            for alias, v in model.aliases.items():
                assert self.reg.resolve(f"models:/{name}@{alias}").version == v
            versions = self.reg.versions(name)
            assert {v.version: v.stage for v in versions} == self.stages[name]
            assert sum(v.stage == "Production" for v in versions) <= 1
        for (name, v), raw in self.files.items():
            assert (self.reg.root / version_path(name, v)).read_bytes() == raw
        assert self.reg.git.dirty_paths() == []


RegistryMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRegistry = pytest.mark.slow(RegistryMachine.TestCase)
