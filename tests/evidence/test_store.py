from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.errors import NotFoundError
from bot.app.sections import ReportSettings
from bot.evidence.store import EvidenceStore, FolderStore, S3Store, open_store
from tests.support.evidence import png
from tests.support.processes import free_port

DATA = png()
SHA = hashlib.sha256(DATA).hexdigest()


def test_a_folder_keeps_a_file_under_its_hash_and_gives_it_back(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    assert store.put(DATA) == SHA
    assert store.get(SHA) == DATA
    assert (tmp_path / SHA[:2] / SHA).read_bytes() == DATA


def test_the_same_bytes_are_kept_once(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    store.put(DATA)
    store.put(DATA)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [SHA]


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    FolderStore(tmp_path).put(DATA)
    assert not [p for p in tmp_path.rglob(".incoming-*")]


@pytest.mark.parametrize("name", ["../../etc/passwd", "0" * 63, "A" * 64, f"{SHA}/../x"])
def test_a_name_that_is_no_hash_finds_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(NotFoundError):
        FolderStore(tmp_path).get(name)


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        FolderStore(tmp_path).get(SHA)


def test_without_a_bucket_the_store_is_the_folder(tmp_path: Path) -> None:
    store = open_store(ReportSettings(evidence_dir=tmp_path))
    assert isinstance(store, FolderStore)
    assert store.root == tmp_path


# --- an S3-compatible bucket: moto's server on 127.0.0.1 ----------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket_store(s3_endpoint: str) -> EvidenceStore:
    import boto3

    settings = ReportSettings(
        s3_endpoint=s3_endpoint,
        s3_bucket="duban-evidence",
        s3_region="us-east-1",
        s3_access_key="testing",
        s3_secret_key="testing",
    )
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="duban-evidence")
    return open_store(settings)


def test_a_bucket_keeps_a_file_under_its_hash_and_gives_it_back(
    bucket_store: EvidenceStore,
) -> None:
    assert isinstance(bucket_store, S3Store)
    assert bucket_store.put(DATA) == SHA
    assert bucket_store.get(SHA) == DATA
    listed = bucket_store.client.list_objects_v2(Bucket="duban-evidence")
    assert [item["Key"] for item in listed["Contents"]] == [f"evidence/{SHA}"]


def test_a_missing_object_is_not_found(bucket_store: EvidenceStore) -> None:
    with pytest.raises(NotFoundError):
        bucket_store.get(hashlib.sha256(b"other").hexdigest())
