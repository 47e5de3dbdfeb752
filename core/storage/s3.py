"""S3 file store: AWS S3 or any S3-compatible service (MinIO, Ceph, R2, moto...).

One boto3 client per process and endpoint, created lazily and shared: boto3 clients are
thread-safe, sessions are not, so each client is built from its own session under a lock.
Every failure becomes core.errors.StorageUnavailable with a message a user can act on; a
missing key is NotFound. There is no fallback to local disk (see docs/storage.md).
"""
from __future__ import annotations

import base64
import hashlib
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core.errors import ConfigError, NotFound, StorageUnavailable

if TYPE_CHECKING:
    from core.config import Settings

# A dead endpoint must fail in seconds, not minutes: short connect timeout, few retries.
CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 30
MAX_ATTEMPTS = 2

CREDENTIAL_ERRORS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
}
MISSING_KEY_ERRORS = {"NoSuchKey", "404", "NotFound"}

_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def shared_client(endpoint_url: str, region: str, addressing_style: str) -> Any:
    """The process's boto3 S3 client for this endpoint, created on first use."""
    key = (endpoint_url, region, addressing_style)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _new_client(endpoint_url, region, addressing_style)
    return client


def _new_client(endpoint_url: str, region: str, addressing_style: str) -> Any:
    import boto3  # lazy: local-disk deployments never pay for importing boto3
    from botocore.config import Config

    config = Config(
        region_name=region or None,
        signature_version="s3v4",
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": addressing_style},
        # many S3-compatible stores reject the newer default CRC checksums; we send
        # Content-MD5 ourselves, which every store checks
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=20,
    )
    # credentials come from the standard chain: env, shared files, SSO, instance/task role
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


class S3FileStore:
    backend = "s3"
    list_page_size = 1000  # S3's maximum; tests lower it to exercise pagination

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str = "",
        region: str = "us-east-1",
        addressing_style: str = "auto",
        client: Any = None,
    ):
        if not bucket:
            raise ConfigError("S3_BUCKET is empty: set it to the bucket that holds uploaded files")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        # self-hosted stores rarely have wildcard DNS for bucket host names: with a custom
        # endpoint, "auto" means path style (set "virtual" explicitly to override)
        self.addressing_style = "path" if addressing_style == "auto" and endpoint_url else addressing_style
        self._client = client

    @classmethod
    def from_settings(cls, settings: "Settings") -> "S3FileStore":
        return cls(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.aws_endpoint_url_s3,
            region=settings.aws_region,
            addressing_style=settings.s3_addressing_style,
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = shared_client(self.endpoint_url, self.region, self.addressing_style)
        return self._client

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"

    def _full(self, key: str) -> str:
        return self.prefix + key

    # -- the FileStore protocol ------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        self._call(
            "storage unavailable, nothing was saved",
            "put_object",
            Bucket=self.bucket, Key=self._full(key), Body=data, ContentType=content_type, ContentMD5=md5,
        )

    def get(self, key: str) -> bytes:
        response = self._call("storage unavailable", "get_object", key=key, Bucket=self.bucket, Key=self._full(key))
        try:
            return response["Body"].read()
        except Exception as exc:  # the connection died while streaming the body
            raise StorageUnavailable(f"storage unavailable: {self._explain(exc)}") from exc

    def delete(self, key: str) -> None:
        self._call("storage unavailable, nothing was deleted", "delete_object", Bucket=self.bucket, Key=self._full(key))

    def size(self, key: str) -> int | None:
        try:
            head = self._call("storage unavailable", "head_object", key=key, Bucket=self.bucket, Key=self._full(key))
        except NotFound:
            return None
        return int(head["ContentLength"])

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key under `prefix` (without S3_PREFIX), across all result pages."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._full(prefix),
                PaginationConfig={"PageSize": self.list_page_size},
            )
            return sorted(obj["Key"][len(self.prefix):] for page in pages for obj in page.get("Contents", []))
        except Exception as exc:
            raise self._error("storage unavailable", exc) from exc

    def download_url(self, key: str, filename: str, expires_s: int = 300, inline: bool = False) -> str | None:
        """A time-limited GET URL that makes the browser save the file under `filename`, or with
        `inline`, show it (a PDF viewer honours #page=N only for a document it displays)."""
        try:
            return self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._full(key),
                    "ResponseContentDisposition": content_disposition(filename, inline),
                },
                ExpiresIn=int(expires_s),
            )
        except Exception as exc:  # only local failures here (e.g. no credentials found)
            raise self._error("storage unavailable", exc) from exc

    # -- errors ------------------------------------------------------------------------------

    def _call(self, what: str, operation: str, key: str | None = None, **params: Any) -> Any:
        try:
            return getattr(self.client, operation)(**params)
        except Exception as exc:
            if key is not None and _code(exc) in MISSING_KEY_ERRORS:
                raise NotFound(f"stored file {key!r} is missing from bucket {self.bucket!r}") from exc
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: Exception) -> StorageUnavailable:
        return StorageUnavailable(f"{what}: {self._explain(exc)}")

    def _explain(self, exc: Exception) -> str:
        """One sentence naming what is wrong and what to check."""
        from botocore import exceptions as bx

        code = _code(exc)
        if code == "NoSuchBucket":
            return f"bucket {self.bucket!r} does not exist at {self.where} (check S3_BUCKET)"
        if code in CREDENTIAL_ERRORS:
            return (
                f"the AWS credentials were refused by {self.where} ({code}); check AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY, the profile or the instance role"
            )
        if code in {"AccessDenied", "403", "AllAccessDisabled"}:
            return (
                f"access to bucket {self.bucket!r} was denied at {self.where}: the credentials were refused "
                "or lack permission (s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket)"
            )
        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role"
        if isinstance(exc, bx.ConnectionClosedError):
            return f"the connection to {self.where} was lost before it confirmed the request"
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
            return f"cannot reach {self.where} (is it running and is AWS_ENDPOINT_URL_S3 right?)"
        if isinstance(exc, bx.ReadTimeoutError):
            return f"{self.where} did not answer in time"
        if isinstance(exc, bx.ClientError):
            message = exc.response.get("Error", {}).get("Message") or ""
            return f"{self.where} answered {code}{': ' + message if message else ''}"
        if isinstance(exc, bx.BotoCoreError | OSError):
            return f"cannot talk to {self.where}: {exc}"
        return f"unexpected error from {self.where}: {type(exc).__name__}: {exc}"


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def content_disposition(filename: str, inline: bool = False) -> str:
    """`attachment` (or `inline`) with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(filename, safe='')}"
