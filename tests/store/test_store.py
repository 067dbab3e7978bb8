"""gitreg.store against real storage: tmp_path (file://), fsspec memory://, and S3 through
moto's server on 127.0.0.1. Faults are injected through the progress callback (a caller's
hook) or third-party calls (s3fs), never by mocking gitreg."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitreg import store
from gitreg.errors import AlreadyExists, ArtifactError, DigestMismatch, UsageError
from gitreg.manifest import ArtifactRef, FileEntry
from gitreg.store import CHUNK

if TYPE_CHECKING:
    from s3_server import S3

pytest_plugins = ["s3_server"]  # the moto server fixtures: s3_endpoint, s3
MIB = 1 << 20


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_folder(parent: Path, big: int = 3 * MIB + 17) -> Path:
    model = parent / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(os.urandom(big))
    (model / "config.json").write_bytes(b'{"layers": 2}\n')
    (model / "sub" / "vocab.txt").write_bytes(b"a\nb\n")
    return model


def make_file(parent: Path, size: int = 2 * MIB + 5) -> Path:
    f = parent / "model.bin"
    f.write_bytes(os.urandom(size))
    return f


def flip_byte(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


class Store:
    """A store under test: its URI and direct access to the bytes behind it."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        if kind == "file":
            self.root = tmp_path / "store"
            self.root.mkdir()
            self.uri = self.root.as_uri()
        else:
            import fsspec

            self.fs = fsspec.filesystem("memory")
            self.root_key = f"/gitreg-{uuid.uuid4().hex}"
            self.uri = f"memory:/{self.root_key}"

    def path_of(self, uri: str) -> str:
        assert uri.startswith(self.uri + "/"), uri
        return uri[len(self.uri) + 1 :]

    def files(self) -> list[str]:
        """Every stored file, relative to the store."""
        if self.kind == "file":
            return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                          if not p.is_dir())  # fmt: skip
        return sorted(k[len(self.root_key) + 1 :] for k in self.fs.find(self.root_key))

    def read(self, rel: str) -> bytes:
        if self.kind == "file":
            return (self.root / rel).read_bytes()
        return bytes(self.fs.cat_file(f"{self.root_key}/{rel}"))

    def write(self, rel: str, data: bytes) -> None:
        if self.kind == "file":
            p = self.root / rel
            for parent in p.relative_to(self.root).parents:  # stored folders are read-only
                if (self.root / parent).is_dir():
                    (self.root / parent).chmod(0o755)
            p.parent.mkdir(parents=True, exist_ok=True)
            if p.exists():
                p.chmod(0o644)
            p.write_bytes(data)
        else:
            with self.fs.open(f"{self.root_key}/{rel}", "wb") as f:
                f.write(data)

    def remove(self, rel: str) -> None:
        if self.kind == "file":
            (self.root / rel).unlink()
        else:
            self.fs.rm(f"{self.root_key}/{rel}")

    def cleanup(self) -> None:
        if self.kind == "memory" and self.fs.exists(self.root_key):
            self.fs.rm(self.root_key, recursive=True)


@pytest.fixture(params=["file", "memory"])
def st_(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store(request.param, tmp_path)
    yield s
    s.cleanup()


def no_temp_siblings(dest: Path) -> bool:
    return not [p for p in dest.parent.iterdir() if ".gitreg-tmp-" in p.name]


class Boom(Exception):
    pass


def raise_after(limit: int) -> Callable[[int], None]:
    """A progress callback that fails once ``limit`` bytes were reported (a Ctrl-C, a bug)."""
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] > limit:
            raise Boom("interrupted")

    return progress


# ---------------------------------------------------------------- module contract


def test_import_does_not_load_fsspec() -> None:
    code = "import sys, gitreg.store; print(sorted(m for m in ('fsspec', 's3fs', 'boto3') if m in sys.modules))"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_listing_digest_by_hand() -> None:
    files = [
        FileEntry(path="sub/b.txt", size=2, digest=sha(b"b\n")),
        FileEntry(path="a.bin", size=3, digest=sha(b"abc")),
    ]
    listing = (
        f"{hashlib.sha256(b'abc').hexdigest()}  3  a.bin\n"
        f"{hashlib.sha256(b'b' + bytes([10])).hexdigest()}  2  sub/b.txt\n"
    )
    assert store.listing_digest(files) == sha(listing.encode())
    assert store.listing_digest(files[::-1]) == store.listing_digest(files)


# ---------------------------------------------------------------- URIs


@pytest.mark.parametrize(
    ("uri", "allowed", "message"),
    [
        ("s3://bucket/a/../b", (), "'..'"),
        ("s3://bucket/a/%2e%2e/b", (), "'..'"),
        ("file:///data/../etc/passwd", (), "'..'"),
        ("s3://AKIAEXAMPLE:s3cr3tKey@bucket/x", (), "credentials"),
        ("gs://user:hunter2pass@bucket/x", (), "credentials"),
        ("s3://bucket/x?X-Amz-Signature=deadbeefsecret&X-Amz-Credential=AKIAX", (), "signed"),
        ("gs://bucket/x?X-Goog-Signature=deadbeefsecret", (), "signed"),
        ("az://container/x?sv=2020&sig=deadbeefsecret", (), "signed"),
        ("s3://bucket/x?versionId=3", (), "query"),
        ("s3://acme-ml-evil/model.bin", ("s3://acme-ml/",), "outside the allowed"),
        ("s3://acme-ml-evil/model.bin", ("s3://acme-ml",), "outside the allowed"),
        ("file:///tmp/m.bin", ("s3://acme-ml/",), "outside the allowed"),
        ("ftp://host/model.bin", (), "not supported"),
        ("http://host/model.bin", (), "not supported"),
        ("/abs/model.bin", (), "not supported"),
        ("file://../relative/store", (), "absolute"),
        ("s3://bucket/a\x00b", (), "control character"),
        ("s3://bucket/a%00b", (), "control character"),
        ("s3://bucket/a\nb", (), "control character"),
        ("", (), "empty"),
    ],
)
def test_check_uri_refuses(uri: str, allowed: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        store.check_uri(uri, allowed)
    text = str(info.value)
    for secret in ("s3cr3tKey", "hunter2pass", "deadbeefsecret", "\x00", "\n"):
        assert secret not in text


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("s3://acme-ml/models/a.bin", ("s3://acme-ml/", "file://")),
        ("s3://acme-ml", ("s3://acme-ml/",)),
        ("S3://acme-ml/x", ("s3://acme-ml",)),
        ("file:///anywhere/at/all", ("s3://acme-ml/", "file://")),
        ("file:///data/models/x", ("file:///data/models",)),
        ("gs://bucket/m", ()),
        ("abfs://container@account.dfs.core.windows.net/m", ()),
        ("memory://bucket/m", ()),
        ("file://localhost/tmp/x", ()),
    ],
)
def test_check_uri_accepts(uri: str, allowed: tuple[str, ...]) -> None:
    assert store.check_uri(uri, allowed) == uri


def test_redact() -> None:
    assert store.redact("s3://key:secret@bucket/x?X-Amz-Signature=s") == "s3://***@bucket/x?***"
    assert store.redact("gs://bucket/x#frag") == "gs://bucket/x?***"
    assert store.redact("s3://bucket/a\x00b") == "s3://bucket/a\\x00b"
    assert store.redact("s3://bucket/plain") == "s3://bucket/plain"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=8))
def test_check_uri_only_raises_usage_errors(uri: str, secret: str) -> None:
    secret = "SECRET" + secret
    with contextlib.suppress(UsageError):
        store.check_uri(uri)
    for bad in (f"s3://u:{secret}@b/x", f"s3://b/x?X-Amz-Signature={secret}", f"s3://{secret}@b"):
        with pytest.raises(UsageError) as info:
            store.check_uri(bad)
        assert secret not in str(info.value)


# ---------------------------------------------------------------- describe


def test_describe_local_file(tmp_path: Path) -> None:
    f = make_file(tmp_path)
    seen: list[int] = []
    ref = store.describe_local(f, progress=seen.append)
    assert ref == ArtifactRef(
        uri=f.resolve().as_uri(), digest=sha(f.read_bytes()), size=f.stat().st_size
    )
    assert sum(seen) == ref.size and max(seen) <= CHUNK


def test_describe_local_folder(tmp_path: Path) -> None:
    d = make_folder(tmp_path)
    ref = store.describe_local(d)
    assert [f.path for f in ref.files] == ["config.json", "sub/vocab.txt", "weights.bin"]
    for f in ref.files:
        data = (d / f.path).read_bytes()
        assert (f.size, f.digest) == (len(data), sha(data))
    listing = "".join(f"{f.digest[7:]}  {f.size}  {f.path}\n" for f in ref.files)
    assert ref.digest == sha(listing.encode())
    assert ref.size == sum(f.size for f in ref.files) and ref.is_dir
    assert ref.uri == d.as_uri()


def test_describe_file_uri_matches_fast_path(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "with space")
    ref = store.describe(d.as_uri())
    assert "%20" in ref.uri and ref == store.describe_local(d)
    f = d / "weights.bin"
    assert store.describe(f.as_uri()).digest == sha(f.read_bytes())


def test_describe_memory_matches_local(tmp_path: Path) -> None:
    import fsspec

    d = make_folder(tmp_path)
    fs, root = fsspec.filesystem("memory"), f"/describe-{uuid.uuid4().hex}"
    for p in d.rglob("*"):
        if p.is_file():
            fs.pipe_file(f"{root}/model/{p.relative_to(d).as_posix()}", p.read_bytes())
    try:
        local = store.describe_local(d)
        remote = store.describe(f"memory:/{root}/model")
        assert (remote.digest, remote.size, remote.files) == (local.digest, local.size, local.files)
        one = store.describe(f"memory:/{root}/model/weights.bin")
        assert one.digest == sha((d / "weights.bin").read_bytes()) and not one.files
    finally:
        fs.rm(root, recursive=True)


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_describe_missing(tmp_path: Path, kind: str) -> None:
    uri = (tmp_path / "nope.bin").as_uri() if kind == "file" else "memory://nowhere/nope.bin"
    with pytest.raises(ArtifactError, match=r"nope\.bin does not exist"):
        store.describe(uri)
    with pytest.raises(ArtifactError, match="does not exist"):
        store.describe_local(tmp_path / "nope.bin")


@pytest.mark.parametrize(
    "plant",
    [
        lambda d: os.symlink(d / "config.json", d / "sub" / "alias.json"),
        lambda d: os.symlink("/etc", d / "etc"),
        lambda d: os.symlink(os.path.expanduser("~/.aws/credentials"), d / "creds"),
        lambda d: os.symlink("loop", d / "loop"),
        lambda d: os.mkfifo(d / "pipe"),
    ],
    ids=["inner-link", "etc", "credentials", "loop", "fifo"],
)
def test_links_and_special_files_in_a_folder_are_refused(
    tmp_path: Path, plant: Callable[[Path], None]
) -> None:
    d = make_folder(tmp_path)
    plant(d)
    with pytest.raises(ArtifactError, match=r"symbolic link|not a regular file"):
        store.describe_local(d)
    with pytest.raises(ArtifactError, match=r"symbolic link|not a regular file"):
        store.describe(d.as_uri())


def test_a_link_as_the_artifact_is_refused(tmp_path: Path) -> None:
    f = make_file(tmp_path)
    (tmp_path / "link.bin").symlink_to(f)
    (tmp_path / "linkdir").symlink_to(tmp_path)
    for p in (tmp_path / "link.bin", tmp_path / "linkdir"):
        with pytest.raises(ArtifactError, match="symbolic link"):
            store.describe_local(p)
        with pytest.raises(ArtifactError, match="symbolic link"):
            store.describe(p.as_uri())


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ArtifactError, match="empty folder"):
        store.describe_local(tmp_path / "empty")


# ---------------------------------------------------------------- upload (file://, memory://)


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_upload_is_content_addressed(tmp_path: Path, st_: Store, folder: bool) -> None:
    src = make_folder(tmp_path) if folder else make_file(tmp_path)
    described = store.describe_local(src)
    seen: list[int] = []
    ref = store.upload(src, st_.uri, "fraud-model", progress=seen.append)
    hexdigest = described.digest.removeprefix("sha256:")
    assert ref.uri == f"{st_.uri}/fraud-model/sha256/{hexdigest}/{src.name}"
    assert replace(ref, uri=described.uri) == described
    assert sum(seen) == 2 * ref.size  # hashed, then sent
    key = st_.path_of(ref.uri)
    expected = [f"{key}/{f.path}" for f in ref.files] if folder else [key]
    assert st_.files() == expected  # nothing else: no staging debris
    for f in ref.files or [FileEntry(path="", size=ref.size, digest=ref.digest)]:
        assert sha(st_.read(f"{key}/{f.path}" if f.path else key)) == f.digest
    assert store.describe(ref.uri).digest == ref.digest

    again = store.upload(src, st_.uri, "fraud-model")  # the same bytes are stored once
    assert again == ref and st_.files() == expected


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_upload_refuses_different_content_at_the_key(
    tmp_path: Path, st_: Store, folder: bool
) -> None:
    src = make_folder(tmp_path) if folder else make_file(tmp_path)
    ref = store.describe_local(src)
    key = f"m/sha256/{ref.digest[7:]}/{src.name}"
    victim = f"{key}/weights.bin" if folder else key
    original = (src / "weights.bin" if folder else src).read_bytes()
    planted = flip_byte(original, 100)  # same size, different bytes
    st_.write(victim, planted)
    with pytest.raises(ArtifactError, match="artifact exists with different content"):
        store.upload(src, st_.uri, "m")
    assert st_.read(victim) == planted  # never overwritten
    st_.write(victim, original[:10])  # different size
    with pytest.raises(ArtifactError, match="artifact exists with different content"):
        store.upload(src, st_.uri, "m")
    assert st_.read(victim) == original[:10]


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_interrupted_upload_leaves_nothing(tmp_path: Path, st_: Store, folder: bool) -> None:
    src = make_folder(tmp_path) if folder else make_file(tmp_path)
    size = store.describe_local(src).size
    with pytest.raises(Boom):  # fails after the first chunk sent (hashing reports `size` first)
        store.upload(src, st_.uri, "m", progress=raise_after(size + CHUNK))
    assert st_.files() == []


def test_source_changing_during_upload_is_caught(tmp_path: Path, st_: Store) -> None:
    src = make_file(tmp_path, size=3 * MIB)
    size, done = src.stat().st_size, [0]

    def tamper(n: int) -> None:
        done[0] += n
        if done[0] > size and done[0] - n <= size:  # first chunk of the copy
            with open(src, "r+b") as f:
                f.seek(2 * MIB)
                byte = f.read(1)
                f.seek(2 * MIB)
                f.write(flip_byte(byte))  # a fixed b"X" was already there 1 time in 256

    with pytest.raises(ArtifactError, match="changed while it was being uploaded"):
        store.upload(src, st_.uri, "m", progress=tamper)
    assert st_.files() == []


def test_upload_refusals(tmp_path: Path, st_: Store) -> None:
    src = make_file(tmp_path)
    with pytest.raises(UsageError, match="model name"):
        store.upload(src, st_.uri, "../escape")
    with pytest.raises(UsageError, match="absolute"):
        store.upload(src, "file://relative/store", "m")
    (tmp_path / "link.bin").symlink_to(src)
    with pytest.raises(ArtifactError, match="symbolic link"):
        store.upload(tmp_path / "link.bin", st_.uri, "m")
    with pytest.raises(ArtifactError, match="does not exist"):
        store.upload(tmp_path / "missing.bin", st_.uri, "m")
    assert st_.files() == []


# ---------------------------------------------------------------- download + verify


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_download_roundtrip(tmp_path: Path, st_: Store, folder: bool) -> None:
    src = make_folder(tmp_path) if folder else make_file(tmp_path)
    ref = store.upload(src, st_.uri, "m")
    dest = tmp_path / "out" / "deep" / "copy"
    seen: list[int] = []
    assert store.download(ref, dest, progress=seen.append) == dest
    assert sum(seen) == ref.size
    if folder:
        assert store.describe_local(dest).digest == ref.digest
        empty = tmp_path / "empty-dest"
        empty.mkdir()
        store.download(ref, empty)
        assert store.describe_local(empty).digest == ref.digest
    else:
        assert dest.read_bytes() == src.read_bytes()
    assert no_temp_siblings(dest)
    assert store.verify(ref) == "OK" and store.verify_detail(ref) == ("OK", "")


def test_download_refuses_to_clobber(tmp_path: Path, st_: Store) -> None:
    ref = store.upload(make_file(tmp_path), st_.uri, "m")
    dest = tmp_path / "mine.bin"
    dest.write_bytes(b"user data")
    with pytest.raises(AlreadyExists, match="already exists"):
        store.download(ref, dest)
    assert dest.read_bytes() == b"user data"
    folder_ref = store.upload(make_folder(tmp_path), st_.uri, "m")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_bytes(b"keep")
    with pytest.raises(AlreadyExists):
        store.download(folder_ref, full)
    assert [p.name for p in full.iterdir()] == ["keep.txt"]


def test_tampered_file_is_caught(tmp_path: Path, st_: Store) -> None:
    ref = store.upload(make_file(tmp_path), st_.uri, "m")
    key = st_.path_of(ref.uri)
    original = st_.read(key)
    dest = tmp_path / "dest.bin"

    st_.write(key, flip_byte(original, len(original) // 2))  # one byte, same size
    with pytest.raises(DigestMismatch) as info:
        store.download(ref, dest)
    e = info.value
    assert (e.uri, e.expected, e.actual) == (ref.uri, ref.digest, sha(st_.read(key)))
    assert ref.uri in str(e) and ref.digest in str(e)
    assert not dest.exists() and no_temp_siblings(dest)
    assert store.verify(ref) == "MISMATCH"

    st_.write(key, original[:-1])  # truncated
    with pytest.raises(DigestMismatch, match=f"expected size {ref.size}, got size {ref.size - 1}"):
        store.download(ref, dest)
    assert not dest.exists() and no_temp_siblings(dest)
    assert store.verify(ref) == "MISMATCH"

    st_.remove(key)
    with pytest.raises(ArtifactError, match="does not exist"):
        store.download(ref, dest)
    assert store.verify_detail(ref) == ("MISSING", f"{ref.uri} does not exist")
    assert not dest.exists() and no_temp_siblings(dest)


def test_tampered_folder_names_the_file(tmp_path: Path, st_: Store) -> None:
    ref = store.upload(make_folder(tmp_path), st_.uri, "m")
    key = st_.path_of(ref.uri)
    dest = tmp_path / "dest"
    dest.mkdir()
    vocab = st_.read(f"{key}/sub/vocab.txt")

    st_.write(f"{key}/sub/vocab.txt", flip_byte(vocab))
    with pytest.raises(DigestMismatch) as info:
        store.download(ref, dest)
    assert info.value.uri == f"{ref.uri}/sub/vocab.txt"
    assert list(dest.iterdir()) == [] and no_temp_siblings(dest)
    status, detail = store.verify_detail(ref)
    assert status == "MISMATCH" and "sub/vocab.txt" in detail

    st_.write(f"{key}/sub/vocab.txt", vocab)
    assert store.verify(ref) == "OK"
    st_.write(f"{key}/extra.py", b"import os")
    assert store.verify_detail(ref) == (
        "MISMATCH", f"{ref.uri}/extra.py does not match its manifest: expected no such file, "
        "got size 9")  # fmt: skip
    st_.remove(f"{key}/extra.py")
    st_.remove(f"{key}/config.json")
    status, detail = store.verify_detail(ref)
    assert status == "MISMATCH" and "config.json" in detail
    with pytest.raises(DigestMismatch, match=r"config\.json"):
        store.download(ref, dest)
    assert list(dest.iterdir()) == []


def test_a_hostile_manifest_cannot_escape_dest(tmp_path: Path, st_: Store) -> None:
    ref = store.upload(make_folder(tmp_path), st_.uri, "m")
    evil = FileEntry(path="../../evil.sh", size=4, digest=sha(b"evil"))
    files = (*ref.files, evil)
    hostile = replace(ref, files=files, digest=store.listing_digest(files))
    with pytest.raises(ArtifactError, match="unsupported file name"):
        store.download(hostile, tmp_path / "dest")
    assert not (tmp_path / "evil.sh").exists() and not (tmp_path / "dest").exists()
    forged = replace(ref, files=ref.files[:-1])  # file list no longer adds up to the digest
    with pytest.raises(DigestMismatch):
        store.download(forged, tmp_path / "dest")
    assert store.verify(forged) == "MISMATCH"
    with pytest.raises(UsageError):
        store.download(replace(ref, uri=ref.uri + "/../.."), tmp_path / "dest")


# ---------------------------------------------------------------- S3 (moto server)


S3_OPTS = {"default_block_size": 5 * MIB}  # the S3 minimum part: multipart from 5 MiB on


def s3_options(s3: S3) -> dict[str, object]:
    return {**s3.options, **S3_OPTS}


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_s3_upload_describe_download(tmp_path: Path, s3: S3, folder: bool) -> None:
    src = make_folder(tmp_path, big=6 * MIB + 123) if folder else make_file(tmp_path, 6 * MIB + 7)
    opts = s3_options(s3)
    ref = store.upload(src, s3.uri("models"), "m", opts)
    key = f"models/m/sha256/{ref.digest[7:]}/{src.name}"
    assert ref.uri == s3.uri(key)
    big = f"{key}/weights.bin" if folder else key
    assert s3.client.head_object(Bucket=s3.bucket, Key=big)["ETag"].endswith('-2"')  # multipart
    assert s3.keys() == ([f"{key}/{f.path}" for f in ref.files] if folder else [key])
    assert s3.pending_uploads() == []
    described = store.describe(ref.uri, s3.options)
    assert (described.digest, described.size, described.files) == (ref.digest, ref.size, ref.files)
    assert store.upload(src, s3.uri("models"), "m", opts) == ref  # stored once
    assert len(s3.keys()) == (len(ref.files) if folder else 1)
    dest = tmp_path / "dest"
    store.download(ref, dest, s3.options)
    assert store.describe_local(dest).digest == ref.digest
    assert store.verify(ref, s3.options) == "OK"


def test_s3_missing_object(s3: S3) -> None:
    import s3fs

    with pytest.raises(ArtifactError, match=f"{s3.uri('nope.bin')} does not exist"):
        store.describe(s3.uri("nope.bin"), s3.options)
    s3.client.put_object(Bucket=s3.bucket, Key="gone.bin", Body=b"data")
    ref = ArtifactRef(uri=s3.uri("gone.bin"), digest=sha(b"data"), size=4)
    stale = s3fs.S3FileSystem(endpoint_url=s3.endpoint)  # a second client with a cached listing
    assert stale.ls(s3.bucket) == [f"{s3.bucket}/gone.bin"]
    s3.client.delete_object(Bucket=s3.bucket, Key="gone.bin")
    assert stale.ls(s3.bucket) == [f"{s3.bucket}/gone.bin"]  # stale
    assert store.verify(ref, s3.options) == "MISSING"
    with pytest.raises(ArtifactError, match="does not exist"):
        store.download(ref, Path("/nonexistent-never-written/x"), s3.options)


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_s3_interrupted_multipart_leaves_nothing(
    tmp_path: Path, s3: S3, folder: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3fs.core import S3File

    src = make_folder(tmp_path, big=11 * MIB) if folder else make_file(tmp_path, 11 * MIB)
    original, parts = S3File._upload_chunk, []

    def flaky(self: S3File, final: bool = False) -> object:
        if self.buffer.tell() >= 5 * MIB:  # a full part is about to go
            parts.append(self.path)
            if len(parts) > 1:
                raise ConnectionResetError("connection reset by peer")
        return original(self, final)

    monkeypatch.setattr(S3File, "_upload_chunk", flaky)
    with pytest.raises(ArtifactError, match="connection reset"):
        store.upload(src, s3.uri("models"), "m", s3_options(s3))
    assert len(parts) == 2  # one part landed, the second failed
    assert s3.keys() == [] and s3.pending_uploads() == []


def test_s3_write_once(tmp_path: Path, s3: S3) -> None:
    src = make_file(tmp_path, 6 * MIB)
    ref = store.describe_local(src)
    key = f"models/m/sha256/{ref.digest[7:]}/{src.name}"
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"someone else's bytes")
    with pytest.raises(ArtifactError, match="artifact exists with different content"):
        store.upload(src, s3.uri("models"), "m", s3_options(s3))
    s3.client.delete_object(Bucket=s3.bucket, Key=key)

    def racer(n: int, done: list[int] = [0]) -> None:  # noqa: B006
        done[0] += n
        if done[0] > ref.size and done[0] - n <= ref.size:  # after the existence check
            s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"racer")

    with pytest.raises(ArtifactError, match="artifact exists with different content"):
        store.upload(src, s3.uri("models"), "m", s3_options(s3), progress=racer)
    body = s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    assert body == b"racer"  # If-None-Match: the racer's object was not overwritten
    assert s3.pending_uploads() == []


def test_s3_tampering_is_caught(tmp_path: Path, s3: S3) -> None:
    src = make_file(tmp_path, MIB + 3)
    ref = store.upload(src, s3.uri(), "m", s3.options)
    key = ref.uri.removeprefix(s3.uri() + "/")
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=flip_byte(src.read_bytes(), 7))
    assert store.verify(ref, s3.options) == "MISMATCH"
    dest = tmp_path / "dest.bin"
    with pytest.raises(DigestMismatch) as info:
        store.download(ref, dest, s3.options)
    assert (info.value.uri, info.value.expected) == (ref.uri, ref.digest)
    assert not dest.exists() and no_temp_siblings(dest)
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=src.read_bytes() + b"tail")
    with pytest.raises(DigestMismatch, match=f"size {ref.size}, got size {ref.size + 4}"):
        store.download(ref, dest, s3.options)


def test_s3_aws_endpoint_url_is_honoured(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    src = make_folder(tmp_path, big=100)
    ref = store.upload(src, s3.uri("env"), "m")  # no storage options at all
    assert s3.keys() == [f"env/m/sha256/{ref.digest[7:]}/model/{f.path}" for f in ref.files]
    assert store.describe(ref.uri).digest == ref.digest
    assert store.verify(ref) == "OK"


def test_s3_folder_markers_are_not_files(s3: S3) -> None:
    for key, body in [("pre/", b""), ("pre/a.bin", b"1"), ("pre/sub/", b""), ("pre/sub/b", b"22")]:
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=body)
    ref = store.describe(s3.uri("pre"), s3.options)
    assert [(f.path, f.size) for f in ref.files] == [("a.bin", 1), ("sub/b", 2)]
    assert store.verify(ref, s3.options) == "OK"


def test_s3_missing_bucket(tmp_path: Path, s3: S3) -> None:
    with pytest.raises(ArtifactError, match="s3://no-such-bucket/models does not exist"):
        store.upload(make_file(tmp_path, 10), "s3://no-such-bucket/models", "m", s3.options)


def test_s3_partly_stored_folder_is_completed(tmp_path: Path, s3: S3) -> None:
    """A folder half-published (commit phase cut short) is finished by the next upload."""
    src = make_folder(tmp_path, big=1000)
    ref = store.upload(src, s3.uri(), "m", s3.options)
    key = ref.uri.removeprefix(s3.uri() + "/")
    s3.client.delete_object(Bucket=s3.bucket, Key=f"{key}/sub/vocab.txt")
    assert store.verify(ref, s3.options) == "MISMATCH"
    assert store.upload(src, s3.uri(), "m", s3.options) == ref
    assert store.verify(ref, s3.options) == "OK"
