"""A real S3 endpoint on 127.0.0.1: moto's ThreadedMotoServer, one per test session.

Import the fixtures into a test module (``from s3_server import s3, s3_endpoint``). Fake
credentials and ``AWS_EC2_METADATA_DISABLED`` are set before boto is imported, and
nothing here talks to any host but 127.0.0.1.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

BUCKET = "gitreg-test"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "HTTP_PROXY", "HTTPS_PROXY",
                 "http_proxy", "https_proxy")  # fmt: skip


@dataclass(frozen=True)
class S3:
    """One clean bucket on the test server."""

    endpoint: str
    bucket: str
    client: Any  # boto3 S3 client

    @property
    def options(self) -> dict[str, Any]:
        """fsspec storage options that reach this server."""
        return {"endpoint_url": self.endpoint}

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"

    def keys(self) -> list[str]:
        out = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def pending_uploads(self) -> list[Any]:
        return list(self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))


def _env(mp: pytest.MonkeyPatch) -> None:
    for k, v in FAKE_AWS_ENV.items():
        mp.setenv(k, v)
    for k in UNSET_AWS_ENV:
        mp.delenv(k, raising=False)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Start the server (fake credentials first, before any boto import); its URL."""
    with pytest.MonkeyPatch.context() as mp:
        _env(mp)
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A freshly reset server with one empty bucket, and the fake AWS environment."""
    _env(monkeypatch)  # the autouse git fixture resets HOME; keep boto away from real config
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/gitreg-test")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/gitreg-test")
    request = urllib.request.Request(f"{s3_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return S3(s3_endpoint, BUCKET, client)
