"""Pytest fixtures for a real S3 endpoint over HTTP: moto in server mode on 127.0.0.1.

Not in-process patching: boto3 talks HTTP to a `python -m moto.server` subprocess, so
connection failures, wrong buckets and refused credentials behave as they do in production.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """One `python -m moto.server` process; `stop()` kills it (for fault tests)."""

    def __init__(self, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **FAKE_CREDENTIALS, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.bucket = ""  # set by the fixtures that create one
        self.settings = None

    def start(self, timeout_s: float = 20) -> "MotoServer":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self.proc.returncode}")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.url} within {timeout_s}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def boto_client(endpoint_url: str, **credentials: str):
    """A plain boto3 client for test setup and inspection (not the app's shared client)."""
    import boto3
    from botocore.config import Config

    creds = {
        "aws_access_key_id": credentials.get("key", FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        "aws_secret_access_key": credentials.get("secret", FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
    }
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}), **creds,
    )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """The shared S3 endpoint for the whole test session."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def fault_moto_server() -> Iterator[MotoServer]:
    """A private S3 endpoint that a test may stop mid-way (`fault_moto_server.stop()`)."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials in the environment, and no shared client left over from another test."""
    from core.storage import s3

    for name, value in FAKE_CREDENTIALS.items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(s3, "_clients", {})  # clients made with other credentials are not reused
    yield dict(FAKE_CREDENTIALS)


def make_bucket(endpoint_url: str) -> str:
    name = f"classgpt-test-{uuid.uuid4().hex[:12]}"
    boto_client(endpoint_url).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_bucket(moto_server: MotoServer, aws_credentials) -> str:
    """A fresh, empty bucket on the shared endpoint."""
    return make_bucket(moto_server.url)


def s3_settings_for(endpoint_url: str, bucket: str, data_dir: Path, **overrides):
    from core.config import Settings

    values = dict(
        storage_backend="s3",
        s3_bucket=bucket,
        s3_prefix="test-prefix",
        aws_endpoint_url_s3=endpoint_url,
        s3_addressing_style="path",
        data_dir=data_dir,
        embedder="fake",
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def s3_settings(moto_server: MotoServer, s3_bucket: str, tmp_path: Path):
    """Settings selecting S3 on the shared endpoint, a fresh bucket and a private data dir."""
    return s3_settings_for(moto_server.url, s3_bucket, tmp_path)


@pytest.fixture
def s3_store(s3_settings):
    from core.storage.s3 import S3FileStore

    return S3FileStore.from_settings(s3_settings)


class CuttingProxy:
    """A TCP proxy in front of an S3 endpoint that can stop the endpoint in the middle of a request.

    After `stop_mid_request(after_bytes)`, the first request that sends more than `after_bytes`
    (e.g. an upload's body) has only that much forwarded; then the endpoint is stopped and the
    connection dropped, exactly as when a server dies half-way through an upload. With
    `stop_endpoint=False` only the connections are dropped, so the test can look inside the
    bucket afterwards. While `refusing` is true, every new connection is closed at once.
    """

    def __init__(self, upstream: MotoServer):
        import threading

        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._cut_after: int | None = None
        self._stop_endpoint = True
        self.refusing = False
        self.cut_happened = threading.Event()
        self.endpoint_stopped = threading.Event()
        self._closed = False
        self.bucket = ""
        self.settings = None
        threading.Thread(target=self._accept, daemon=True).start()

    def stop_mid_request(self, after_bytes: int = 8192, stop_endpoint: bool = True) -> None:
        self._cut_after = after_bytes
        self._stop_endpoint = stop_endpoint

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream.port), timeout=5)
            except OSError:
                client.close()  # endpoint is down: refuse like it would
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outgoing: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                limit = self._cut_after if outgoing else None
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: max(0, limit - sent)])
                    self.cut_happened.set()  # before stopping: the client may notice first
                    if self._stop_endpoint:
                        self.upstream.stop()
                        self.endpoint_stopped.set()
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


@pytest.fixture
def s3_fault(aws_credentials, tmp_path: Path) -> Iterator[CuttingProxy]:
    """A private endpoint behind a CuttingProxy, with a fresh bucket (`.bucket`) and `.settings`."""
    server = MotoServer().start()
    proxy = CuttingProxy(server)
    proxy.bucket = make_bucket(server.url)
    proxy.settings = s3_settings_for(proxy.url, proxy.bucket, tmp_path)
    yield proxy
    proxy.close()
    server.stop()


@pytest.fixture(scope="session")
def _refusing_server() -> Iterator[MotoServer]:
    server = MotoServer(env={"INITIAL_NO_AUTH_ACTION_COUNT": "1"}).start()
    server.bucket = make_bucket(server.url)  # the one request it answers without checking
    yield server
    server.stop()


@pytest.fixture
def refusing_s3(_refusing_server: MotoServer, aws_credentials, tmp_path: Path) -> MotoServer:
    """An endpoint that checks credentials and knows none: every request is refused.

    Its bucket (`.bucket`) exists, so the refusal is about the credentials; `.settings` select it.
    """
    _refusing_server.settings = s3_settings_for(_refusing_server.url, _refusing_server.bucket, tmp_path)
    return _refusing_server
