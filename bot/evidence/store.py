"""Where evidence files are kept: under their SHA-256, in a folder or an S3-compatible
bucket ([report] evidence_dir, s3_*). The same bytes are kept once; a name is never a path
anyone sent, only the hash, so no file name can reach outside the store."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.app.errors import ConfigError, NotFoundError
from bot.app.sections import ReportSettings

if TYPE_CHECKING:  # boto3 is optional: `pip install duban[s3]`
    from mypy_boto3_s3 import S3Client

SHA256 = re.compile(r"[0-9a-f]{64}")


class EvidenceStore(Protocol):
    def put(self, data: bytes) -> str:
        """Keeps `data`; returns its SHA-256 (hex), the name to get it back by."""

    def get(self, sha256: str) -> bytes:
        """The bytes kept under `sha256`; NotFoundError when there are none."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise NotFoundError("not a SHA-256")
    return sha256


class FolderStore:
    """Files in `root/ab/abcdef…` (the first two hex digits as a subfolder), each written to
    a temporary file in the same folder and renamed into place: a reader never sees half."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        name = _checked(sha256)
        return self.root / name[:2] / name

    def put(self, data: bytes) -> str:
        name = digest(data)
        target = self.path(name)
        if target.exists():
            return name
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return name

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no evidence file {sha256}") from None


class S3Store:
    """Objects `evidence/<sha256>` in an S3-compatible bucket (AWS, MinIO, Aliyun OSS, …)."""

    PREFIX = "evidence/"

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def put(self, data: bytes) -> str:
        name = digest(data)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.PREFIX + name,
            Body=data,
            ContentType="application/octet-stream",
        )
        return name

    def get(self, sha256: str) -> bytes:
        key = self.PREFIX + _checked(sha256)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            raise NotFoundError(f"no evidence object {sha256}") from None
        return answer["Body"].read()


def open_store(settings: ReportSettings) -> EvidenceStore:
    """The bucket when `s3_bucket` is set, else the folder."""
    if not settings.s3_bucket:
        return FolderStore(settings.evidence_dir)
    try:
        import boto3
    except ImportError:
        raise ConfigError(
            "report.s3_bucket", "需要安装 boto3（pip install 'duban[s3]'）才能使用对象存储"
        ) from None
    options: dict[str, Any] = {}
    if settings.s3_endpoint:
        options["endpoint_url"] = settings.s3_endpoint
    if settings.s3_region:
        options["region_name"] = settings.s3_region
    if settings.s3_access_key:
        options["aws_access_key_id"] = settings.s3_access_key
        options["aws_secret_access_key"] = settings.s3_secret_key
    return S3Store(boto3.client("s3", **options), settings.s3_bucket)
