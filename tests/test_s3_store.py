"""S3FileStore against a real S3 endpoint over HTTP (moto server on 127.0.0.1)."""
from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.config import Settings
from core.errors import ConfigError, NotFound, StorageUnavailable
from core.storage import FileStore, make_file_store
from core.storage.s3 import S3FileStore, content_disposition, shared_client
from tests.fixtures_s3 import boto_client

KEY = "classes/1/documents/7"


def test_put_get_size_exists_delete_roundtrip(s3_store):
    assert isinstance(s3_store, FileStore)
    s3_store.put(KEY, b"%PDF-1.7 lecture notes", "application/pdf")
    assert s3_store.get(KEY) == b"%PDF-1.7 lecture notes"
    assert s3_store.size(KEY) == 22
    s3_store.delete(KEY)
    assert s3_store.size(KEY) is None
    s3_store.delete(KEY)  # deleting an absent key is not an error


def test_objects_live_under_the_prefix_and_keys_come_back_without_it(s3_store, s3_settings, moto_server):
    s3_store.put(KEY, b"a")
    s3_store.put("classes/2/documents/9", b"bb")
    raw = boto_client(moto_server.url).list_objects_v2(Bucket=s3_settings.s3_bucket)
    assert sorted(o["Key"] for o in raw["Contents"]) == [
        "test-prefix/classes/1/documents/7", "test-prefix/classes/2/documents/9"]
    assert s3_store.list_keys() == [KEY, "classes/2/documents/9"]
    assert s3_store.list_keys("classes/2/") == ["classes/2/documents/9"]
    head = boto_client(moto_server.url).head_object(Bucket=s3_settings.s3_bucket, Key="test-prefix/" + KEY)
    assert head["ContentType"] == "application/octet-stream"


def test_list_keys_reads_every_page(s3_store, monkeypatch):
    calls = []

    def count(**kwargs):
        calls.append(1)

    monkeypatch.setattr(s3_store, "list_page_size", 2)
    s3_store.client.meta.events.register("before-call.s3.ListObjectsV2", count)
    try:
        for i in range(5):
            s3_store.put(f"classes/1/documents/{i}", b"x")
        assert s3_store.list_keys("classes/") == [f"classes/1/documents/{i}" for i in range(5)]
    finally:
        s3_store.client.meta.events.unregister("before-call.s3.ListObjectsV2", count)
    assert len(calls) == 3


def test_missing_key_is_not_found(s3_store):
    with pytest.raises(NotFound, match="missing"):
        s3_store.get("classes/1/documents/404")


def test_presigned_url_downloads_the_bytes_with_the_filename(s3_store):
    s3_store.put(KEY, b"the original bytes", "application/pdf")
    url = s3_store.download_url(KEY, "Week 1 – Intro.pdf", expires_s=60)
    assert "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"the original bytes"
        disposition = response.headers["Content-Disposition"]
    assert disposition == content_disposition("Week 1 – Intro.pdf")
    assert 'filename="Week 1 _ Intro.pdf"' in disposition and "filename*=UTF-8''Week%201%20%E2%80%93%20Intro.pdf" in disposition


def test_presigned_url_can_show_the_file_in_the_browser(s3_store):
    s3_store.put(KEY, b"%PDF-1.4 the original", "application/pdf")
    url = s3_store.download_url(KEY, "Week 1.pdf", expires_s=60, inline=True)
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Disposition"].startswith('inline; filename="Week 1.pdf"')
        assert response.headers["Content-Type"] == "application/pdf"


def test_make_file_store_selects_s3_and_use_s3_is_the_same_switch(s3_settings, tmp_path):
    assert make_file_store(s3_settings).backend == "s3"
    plan_switch = Settings(use_s3=True, s3_bucket="b", data_dir=tmp_path)
    assert plan_switch.storage_backend == "s3" and make_file_store(plan_switch).backend == "s3"
    assert make_file_store(Settings(data_dir=tmp_path)).backend == "local"  # unset keeps local disk
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        Settings(storage_backend="s3", data_dir=tmp_path).check()


def test_one_client_per_process_shared_by_stores_and_threads(s3_settings, aws_credentials):
    a, b = S3FileStore.from_settings(s3_settings), S3FileStore.from_settings(s3_settings)

    def work(i: int):
        a.put(f"classes/1/documents/{i}", str(i).encode())
        assert b.get(f"classes/1/documents/{i}") == str(i).encode()
        return id(a.client), id(b.client)

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(work, range(32)))
    assert ids == {(id(a.client), id(a.client))}
    assert a.client is shared_client(s3_settings.aws_endpoint_url_s3, s3_settings.aws_region, "path")


def test_client_is_created_lazily(s3_settings, aws_credentials, monkeypatch):
    from core.storage import s3

    created = []
    monkeypatch.setattr(s3, "_new_client", lambda *a: created.append(a) or object())
    store = S3FileStore.from_settings(s3_settings)
    assert created == []
    threads = [threading.Thread(target=lambda: store.client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1


def test_wrong_bucket_names_the_bucket(s3_settings, moto_server, aws_credentials):
    store = S3FileStore.from_settings(s3_settings.model_copy(update={"s3_bucket": "no-such-bucket"}))
    with pytest.raises(StorageUnavailable, match="storage unavailable, nothing was saved: bucket 'no-such-bucket' does not exist"):
        store.put(KEY, b"x")
    with pytest.raises(StorageUnavailable, match="'no-such-bucket'"):
        store.get(KEY)
    with pytest.raises(StorageUnavailable, match="'no-such-bucket'"):
        store.list_keys()


def test_bad_credentials_are_reported_as_refused(refusing_s3):
    store = S3FileStore.from_settings(refusing_s3.settings)
    with pytest.raises(StorageUnavailable, match="nothing was saved: the AWS credentials were refused"):
        store.put(KEY, b"x")
    with pytest.raises(StorageUnavailable, match="credentials were refused"):
        store.list_keys()
    with pytest.raises(StorageUnavailable, match="credentials were refused"):
        store.get(KEY)
    with pytest.raises(StorageUnavailable, match="credentials were refused"):
        store.size(KEY)  # a refused HEAD is not "absent"


def test_no_credentials_at_all(s3_settings, monkeypatch, aws_credentials):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = S3FileStore.from_settings(s3_settings)
    with pytest.raises(StorageUnavailable, match="no AWS credentials found"):
        store.put(KEY, b"x")


def test_endpoint_down_fails_fast_with_a_clear_message(s3_fault):
    direct = s3_fault.settings.model_copy(update={"aws_endpoint_url_s3": s3_fault.upstream.url})
    store = S3FileStore.from_settings(direct)
    store.put(KEY, b"before")
    s3_fault.upstream.stop()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="storage unavailable, nothing was saved: cannot reach http://127"):
        store.put(KEY, b"after")
    with pytest.raises(StorageUnavailable, match="storage unavailable"):
        store.get(KEY)
    assert time.monotonic() - started < 10


def test_endpoint_stopped_mid_upload(s3_fault):
    store = S3FileStore.from_settings(s3_fault.settings)
    s3_fault.stop_mid_request(after_bytes=16_384)
    with pytest.raises(StorageUnavailable, match="nothing was saved: the connection to .* was lost"):
        store.put(KEY, b"x" * 500_000)
    assert s3_fault.cut_happened.is_set() and s3_fault.endpoint_stopped.wait(10)


@pytest.mark.parametrize("style, endpoint, expected", [
    ("auto", "http://minio.internal:9000", "http://minio.internal:9000/course-files/p/k?"),  # custom endpoint: path
    ("path", "http://minio.internal:9000", "http://minio.internal:9000/course-files/p/k?"),
    ("virtual", "http://minio.internal:9000", "http://course-files.minio.internal:9000/p/k?"),
    ("auto", "", "https://course-files.s3.amazonaws.com/p/k?"),  # AWS: virtual-hosted
])
def test_addressing_style(style, endpoint, expected, aws_credentials):
    store = S3FileStore("course-files", "p", endpoint, "us-east-1", style)
    assert store.download_url("k", "a.pdf").startswith(expected)  # signing needs no network


def test_bucket_is_required(tmp_path):
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        S3FileStore.from_settings(Settings(storage_backend="s3", data_dir=tmp_path))
