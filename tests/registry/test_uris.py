"""models:/ URI parsing."""

from __future__ import annotations

import pytest

from gitreg.errors import UsageError
from gitreg.model_uris import ModelURI, parse


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/fraud/3", ModelURI("fraud", version=3)),
        ("models:/fraud/Production", ModelURI("fraud", stage="Production")),
        ("models:/fraud/latest", ModelURI("fraud", latest=True)),
        ("models:/fraud/LATEST", ModelURI("fraud", latest=True)),
        ("models:/fraud@champion", ModelURI("fraud", alias="champion")),
        ("models:/a.b_c-d/1", ModelURI("a.b_c-d", version=1)),
        ("models:/fraud/3/", ModelURI("fraud", version=3)),
        ("models:/Fraud Detector/1", ModelURI("Fraud Detector", version=1)),
        ("models:/Fraud Detector@champion", ModelURI("Fraud Detector", alias="champion")),
        ("models:/a@b@champion", ModelURI("a@b", alias="champion")),
        ("models:/caf\u00e9 v2/latest", ModelURI("caf\u00e9 v2", latest=True)),
    ],
)
def test_parse(uri: str, expected: ModelURI) -> None:
    assert parse(uri) == expected
    assert parse(str(parse(uri))) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("runs:/abc/model", "is not a model URI"),
        ("models:/fraud", "is not a model URI"),
        ("models:/fraud/1/extra", "is not a model URI"),
        ("models:/../1", "invalid model name '..'"),
        ("models:/fraud/0", "versions start at 1"),
        ("models:/fraud@", "invalid alias ''"),
        ("models:/fr\x00aud/1", "model names cannot contain control characters"),
        ("models:/..x/1", "invalid model name '..x'"),
    ],
)
def test_refusals(uri: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(uri)


@pytest.mark.parametrize(
    "uri",
    ["models:/Fraud Detector/1", "models:/Fraud Detector@champion", "models:/a@b@champion"],
)
def test_names_read_as_mlflow_reads_them(uri: str) -> None:
    from mlflow.store.artifact.utils.models import _parse_model_uri

    theirs = _parse_model_uri(uri)
    ours = parse(uri)
    assert (ours.name, ours.version, ours.alias) == (
        theirs.name,
        int(theirs.version) if theirs.version else None,
        theirs.alias,
    )
