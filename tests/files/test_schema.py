"""schema: each kind validates, and every violation reads as ``file:line: field: what``."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from gitreg.errors import ManifestError, UsageError
from gitreg.files import schema
from gitreg.files.yamlio import dump, load
from gitreg.layout import MODEL_NAME_RULE, NAME_RULE
from gitreg.manifest import ArtifactRef, FileEntry, ModelVersion, RegisteredModel

DIGEST = "sha256:" + "0123456789abcdef" * 4
VERSION = ModelVersion(
    name="churn",
    version=3,
    stage="Staging",
    description="# Churn\n\nTrained on Q1.\n",
    artifact=ArtifactRef(
        uri="s3://acme-ml/churn/3",
        digest=DIGEST,
        size=10,
        files=(FileEntry(path="model/weights.bin", size=10, digest=DIGEST),),
    ),
    created_at="2024-05-01T12:00:00.123Z",
    created_by="Ada <ada@example.com>",
    tags={"owner": "ada"},
    metrics={"val_auc": 0.91, "epochs": 12},
    params={"lr": "0.01"},
    lineage={"run_id": "r1", "source_commit": "f" * 40, "notebook": "train.ipynb"},
)
MODEL = RegisteredModel(
    name="churn",
    created_at="2024-05-01T12:00:00Z",
    created_by="Ada <ada@example.com>",
    description="Predicts churn.",
    tags={"team": "growth"},
    aliases={"champion": 3},
    last_version=3,
)
CONFIG = """\
stages: [None, Staging, Production, Archived]
default_branch: main
artifacts:
  store: file://../registry-artifacts     # where `register` uploads a local file or folder
  allowed: [s3://acme-ml/, file://]       # URIs outside these prefixes are refused
  storage_options: {anon: false, client_kwargs: {region_name: eu-west-1}}
promotion:
  Staging: {via: commit}
  Production:
    via: pull_request        # commit | pull_request
    from: [Staging]
    exclusive: true          # the previous Production version is archived in the same commit
    gates:
      - metric: val_auc
        min: 0.80
      - metric: latency_ms
        max: 20
      - tags: [data_version]
      - description: required
      - time_in_stage: {stage: Staging, min_hours: 24}
      - not_worse_than_current: {metric: val_auc, tolerance: 0.01, higher_is_better: true}
      - artifact: verified   # present, size and digest match
      - uri_prefix: [s3://acme-ml/prod/]
overrides:
  "payments-*": {Production: {gates: [{metric: val_auc, min: 0.9}]}}
webhooks:
  - url: https://hooks.example.com/gitreg
    events: [register, transition]
    secret_env: GITREG_WEBHOOK_SECRET
remote: {name: origin, forge: github, repository: acme/registry, api_url: https://api.github.com}
"""


def problems(kind: str, text: str) -> list[str]:
    return [str(problem) for problem in schema.problems(load(text, "f.yaml"), kind)]


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


VERSION_TEXT = dump(VERSION.to_dict(), "../../../schemas/version.schema.json")


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("version", VERSION_TEXT),
        ("version", dump(VERSION.evolve(description="", tags={}, metrics={}).to_dict())),
        ("model", dump(MODEL.to_dict())),
        ("model", "name: m\ncreated_at: '2024-01-01T00:00:00Z'\ncreated_by: x\n"),
        ("config", CONFIG),
        ("config", "{}\n"),
    ],
    ids=["version", "version-minimal", "model", "model-minimal", "config", "config-empty"],
)
def test_valid_documents_have_no_problems(kind: str, text: str) -> None:
    assert problems(kind, text) == []
    schema.validate(load(text, "f.yaml"), kind)


# Each case edits one line of VERSION_TEXT (see its layout in the test above).
VERSION_CASES = [
    ("stage: Staging", "stage: 3", "f.yaml:4: stage: expected a string, got 3"),
    (
        "stage: Staging",
        "stagee: Staging",
        ["f.yaml:2: missing required field 'stage'", "f.yaml:4: unknown field 'stagee'"],
    ),
    ("version: 3", "version: 1.10", "f.yaml:3: version: expected an integer, got 1.1"),
    ("version: 3", "version: 3.0", "f.yaml:3: version: expected an integer, got 3.0"),
    ("version: 3", "version: '3'", "f.yaml:3: version: expected an integer, got '3'"),
    ("version: 3", "version: 0", "f.yaml:3: version: must be at least 1, got 0"),
    ("stage: Staging", "stage: ''", "f.yaml:4: stage: must not be empty"),
    (
        "name: churn",
        "name: ../etc",
        f"f.yaml:2: name: '../etc' is not a valid model name: use {MODEL_NAME_RULE}",
    ),
    (
        "  owner: ada",
        "  owner: 1.10",
        "f.yaml:23: tags.owner: expected a string, got 1.1 (quote it)",
    ),
    (
        "  owner: ada",
        "  owner: true",
        "f.yaml:23: tags.owner: expected a string, got true (quote it)",
    ),
    ("  owner: ada", "  owner: NO", []),  # YAML 1.2: NO is the string 'NO'
    ("  lr: '0.01'", "  lr: 0.01", "f.yaml:21: params.lr: expected a string, got 0.01 (quote it)"),
    (
        "  val_auc: 0.91",
        "  val_auc: true",
        "f.yaml:19: metrics.val_auc: expected a number, got true",
    ),
    (
        "  val_auc: 0.91",
        "  val_auc: '0.91'",
        "f.yaml:19: metrics.val_auc: expected a number, got '0.91'",
    ),
    ("  run_id: r1", "  run_id: 7", "f.yaml:26: lineage.run_id: expected a string, got 7"),
    (
        f"  digest: {DIGEST}",
        "  digest: abc",
        "f.yaml:11: artifact.digest: 'abc' does not match sha256:<64 hex>",
    ),
    (
        f"  digest: {DIGEST}",
        "  digest: sha256:0e12345",
        "f.yaml:11: artifact.digest: 'sha256:0e12345' does not match sha256:<64 hex>",
    ),
    (
        f"  digest: {DIGEST}",
        f'  digest: "{DIGEST}\\n"',
        f"f.yaml:11: artifact.digest: '{DIGEST[:57]}...' does not match sha256:<64 hex>",
    ),
    (
        "  size: 10\n  files",
        "  size: -1\n  files",
        "f.yaml:12: artifact.size: must be at least 0, got -1",
    ),
    (
        "  uri: s3://acme-ml/churn/3",
        "  url: s3://x",
        [
            "f.yaml:9: missing required field 'artifact.uri'",
            "f.yaml:10: unknown field 'artifact.url'",
        ],
    ),
    (
        "  - path: model/weights.bin",
        "  - path: ../up",
        "f.yaml:14: artifact.files.0.path: '../up' is not a relative path without '..' segments",
    ),
    (
        "  - path: model/weights.bin",
        "  - path: /abs",
        "f.yaml:14: artifact.files.0.path: '/abs' is not a relative path without '..' segments",
    ),
    (
        "    size: 10\n",
        "    size: 10\n    mode: x\n",
        "f.yaml:16: unknown field 'artifact.files.0.mode'",
    ),
    (
        "created_at: '2024-05-01T12:00:00.123Z'",
        "created_at: 2024-05-01",
        "f.yaml:28: created_at: '2024-05-01' is not an RFC 3339 UTC time like 2024-05-01T12:00:00Z",
    ),
    (
        "created_at: '2024-05-01T12:00:00.123Z'",
        "created_at: '2024-05-01T12:00:00+02:00'",
        "f.yaml:28: created_at: '2024-05-01T12:00:00+02:00' is not an RFC 3339 UTC time"
        " like 2024-05-01T12:00:00Z",
    ),
    (
        "name: churn",
        'name: "churn\\n"',
        f"f.yaml:2: name: 'churn\\n' is not a valid model name: use {MODEL_NAME_RULE}",
    ),
    ("name: churn", "name: churn\nstagee: x", "f.yaml:3: unknown field 'stagee'"),
    ("tags:\n", "tags:\n  '': x\n", "f.yaml:23: tags: key '' must not be empty"),
    (
        "tags:\n",
        f"tags:\n  {'k' * 251}: x\n",
        f"f.yaml:23: tags: key '{'k' * 57}...' must be at most 250 characters, got 251",
    ),
    (
        "description: |",
        "description: 7\nx: |",
        ["f.yaml:5: description: expected a string, got 7", "f.yaml:6: unknown field 'x'"],
    ),
    ("tags:\n  owner: ada", "tags: [ada]", "f.yaml:22: tags: expected a mapping, got a list"),
]


@pytest.mark.parametrize(("old", "new", "expected"), VERSION_CASES)
def test_version_problems(old: str, new: str, expected: str | list[str]) -> None:
    found = problems("version", replace_line(VERSION_TEXT, old, new))
    assert found == ([expected] if isinstance(expected, str) else expected)


def test_version_layout_the_cases_rely_on() -> None:
    lines = VERSION_TEXT.splitlines()
    assert lines[3] == "stage: Staging"
    assert lines[18] == "  val_auc: 0.91"
    assert lines[27].startswith("created_at:")


def test_all_problems_are_reported_sorted_by_line() -> None:
    text = "stage: 3\nversion: 1.10\nname: m\nnope: 1\n"
    assert problems("version", text) == [
        "f.yaml:1: missing required field 'artifact'",
        "f.yaml:1: missing required field 'created_at'",
        "f.yaml:1: missing required field 'created_by'",
        "f.yaml:1: stage: expected a string, got 3",
        "f.yaml:2: version: expected an integer, got 1.1",
        "f.yaml:4: unknown field 'nope'",
    ]
    with pytest.raises(ManifestError) as caught:
        schema.validate(load(text, "models/m/versions/1.yaml"), "version")
    assert str(caught.value) == "models/m/versions/1.yaml:1: missing required field 'artifact'"
    assert caught.value.line == 1


MODEL_TEXT = "name: churn\ncreated_at: '2024-05-01T12:00:00Z'\ncreated_by: ada\n"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("aliases: {champion: 0}\n", "f.yaml:4: aliases.champion: must be at least 1, got 0"),
        ("aliases: {champion: '3'}\n", "f.yaml:4: aliases.champion: expected an integer, got '3'"),
        (
            "aliases:\n  ok: 1\n  bad/alias: 2\n",
            f"f.yaml:6: aliases: key 'bad/alias' is not a valid name: use {NAME_RULE}",
        ),
        ("last_version: -1\n", "f.yaml:4: last_version: must be at least 0, got -1"),
        ("last_version: true\n", "f.yaml:4: last_version: expected an integer, got true"),
        ("stage: None\n", "f.yaml:4: unknown field 'stage'"),
        (
            "description: " + "x" * 65537 + "\n",
            "f.yaml:4: description: must be at most 65536 characters, got 65537",
        ),
    ],
)
def test_model_problems(extra: str, expected: str) -> None:
    assert problems("model", MODEL_TEXT + extra) == [expected]


def test_model_missing_fields() -> None:
    assert problems("model", "# header\nname: m\n") == [
        "f.yaml:2: missing required field 'created_at'",
        "f.yaml:2: missing required field 'created_by'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stages: []\n", ["f.yaml:1: stages: must list at least 1 item"]),
        ("stages: [None, Staging, None]\n", ["f.yaml:1: stages: 'None' is listed more than once"]),
        ("stages:\n- a\n- ''\n", ["f.yaml:3: stages.1: must not be empty"]),
        ("stages: None\n", ["f.yaml:1: stages: expected a list, got 'None'"]),
        ("artifacts: {store: x, bucket: y}\n", ["f.yaml:1: unknown field 'artifacts.bucket'"]),
        (
            "promotion:\n  Production:\n    via: merge\n",
            ["f.yaml:3: promotion.Production.via: 'merge' is not one of commit, pull_request"],
        ),
        (
            "promotion:\n  Production:\n    exclusive: 'yes'\n",
            ["f.yaml:3: promotion.Production.exclusive: expected true or false, got 'yes'"],
        ),
        (
            "promotion:\n  Production:\n    form: [Staging]\n",
            ["f.yaml:3: unknown field 'promotion.Production.form'"],
        ),
        (
            "overrides:\n  'payments-*':\n    Production: {gates: [{metric: x, max: 1}], x: 1}\n",
            ["f.yaml:3: unknown field 'overrides.payments-*.Production.x'"],
        ),
        (
            "webhooks:\n- events: [register]\n",
            ["f.yaml:2: missing required field 'webhooks.0.url'"],
        ),
        (
            "webhooks:\n- url: https://x\n  secret_env: my-secret\n",
            [
                "f.yaml:3: webhooks.0.secret_env: 'my-secret' is not an environment variable name"
                " (A-Z, 0-9 and _)"
            ],
        ),
        (
            "remote: {forge: gitea}\n",
            ["f.yaml:1: remote.forge: 'gitea' is not one of github, gitlab, none"],
        ),
        (
            "remote:\n  repository: acme\n",
            ["f.yaml:2: remote.repository: 'acme' is not of the form owner/name or group/project"],
        ),
        ("stage: [a]\n", ["f.yaml:1: unknown field 'stage'"]),
    ],
)
def test_config_problems(text: str, expected: list[str]) -> None:
    assert problems("config", text) == expected


GATES = "promotion:\n  Production:\n    gates:\n      - "


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        (
            "metrc: val_auc\n        min: 0.8",
            ["4: promotion.Production.gates.0: unknown gate 'metrc'"],
        ),
        (
            "metric: val_auc",
            ["4: promotion.Production.gates.0: needs at least one of 'min', 'max'"],
        ),
        (
            "metric: val_auc\n        min: '0.8'",
            ["5: promotion.Production.gates.0.min: expected a number, got '0.8'"],
        ),
        (
            "{metric: val_auc, min: 0.8, mx: 1}",
            ["4: unknown field 'promotion.Production.gates.0.mx'"],
        ),
        (
            "description: optional",
            ["4: promotion.Production.gates.0.description: must be 'required', got 'optional'"],
        ),
        (
            "artifact: true",
            ["4: promotion.Production.gates.0.artifact: must be 'verified', got true"],
        ),
        (
            "time_in_stage: {stage: S}",
            ["4: missing required field 'promotion.Production.gates.0.time_in_stage.min_hours'"],
        ),
        (
            "time_in_stage: {stage: S, min_hours: -1}",
            ["4: promotion.Production.gates.0.time_in_stage.min_hours: must be at least 0, got -1"],
        ),
        (
            "not_worse_than_current: {metric: auc, tolerance: -0.1}",
            [
                "4: promotion.Production.gates.0.not_worse_than_current.tolerance:"
                " must be at least 0, got -0.1"
            ],
        ),
        (
            "{tags: [a], description: required}",
            ["4: unknown field 'promotion.Production.gates.0.description'"],
        ),
        ("{}", ["4: promotion.Production.gates.0: empty gate"]),
        ("val_auc", ["4: promotion.Production.gates.0: expected a mapping, got 'val_auc'"]),
    ],
)
def test_gate_problems(gate: str, expected: list[str]) -> None:
    assert problems("config", GATES + gate + "\n") == ["f.yaml:" + line for line in expected]


def test_problems_are_plain_manifest_errors() -> None:
    [problem] = schema.problems(load("stages: []\n", "gitreg.yaml"), "config")
    assert (problem.path, problem.line, problem.message) == (
        "gitreg.yaml",
        1,
        "stages: must list at least 1 item",
    )


# ---- the schema files ----------------------------------------------------------------


@pytest.mark.parametrize("kind", schema.KINDS)
def test_schema_files_are_valid_draft_2020_12(kind: str) -> None:
    from jsonschema import Draft202012Validator

    document: dict[str, Any] = json.loads(schema.schema_text(kind))
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"https://gitreg.dev/schemas/{schema.schema_filename(kind)}"


def test_schema_names() -> None:
    assert [schema.schema_filename(kind) for kind in schema.KINDS] == [
        "gitreg.schema.json",
        "model.schema.json",
        "version.schema.json",
    ]
    with pytest.raises(UsageError, match="unknown schema kind 'manifest'"):
        schema.schema_filename("manifest")


def test_importing_schema_does_not_import_jsonschema() -> None:
    code = "import gitreg.files.schema, sys; assert 'jsonschema' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
