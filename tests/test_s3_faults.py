"""S3 failures through the documents service: the user sees a clear error, and nothing is
half-done — no document row, no chunk, no object, and never a silent write to local disk."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.search.embeddings import FakeEmbedder
from core.models import Chunk, Document
from core.services import build_services
from core.services.actors import SYSTEM
from core.ops.storage import check
from tests.fixtures_s3 import boto_client
from tests.factories import upload

TEXT = ("Mitochondria produce ATP through cellular respiration. " * 400).encode()  # ~22 KB


@pytest.fixture
def services_on(database_url):
    """build_services for S3 settings, on the test's database."""
    built = []

    def make(settings, embedder=None):
        svc = build_services(settings.model_copy(update={"database_url": database_url}),
                             migrate=True, embedder=embedder or FakeEmbedder())
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.db.engine.dispose()


def assert_nothing_kept(svc) -> None:
    with svc.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(Chunk)) == 0
    files = svc.settings.files_dir
    assert not files.exists() or not any(p.is_file() for p in files.rglob("*")), "fell back to local disk"


def bucket_keys(url: str, bucket: str) -> list[str]:
    return [o["Key"] for o in boto_client(url).list_objects_v2(Bucket=bucket).get("Contents", [])]


def upload_to_new_class(svc):
    class_id = svc.classes.create(SYSTEM, "Biology").id
    return class_id, upload(svc, SYSTEM, class_id, "cells.txt", TEXT)


def test_endpoint_stopped_mid_upload(s3_fault, services_on):
    svc = services_on(s3_fault.settings)
    s3_fault.stop_mid_request(after_bytes=8192)  # the server dies with the body half sent
    class_id, result = upload_to_new_class(svc)
    assert s3_fault.cut_happened.is_set() and s3_fault.endpoint_stopped.wait(10)
    assert result.status == "failed" and result.document_id is None
    assert "storage unavailable, nothing was saved" in result.error
    assert_nothing_kept(svc)
    assert svc.documents.failures(SYSTEM, class_id)[0].error == result.error  # the instructor sees why


def test_connection_lost_mid_upload_leaves_no_partial_object(s3_fault, services_on):
    svc = services_on(s3_fault.settings)
    s3_fault.stop_mid_request(after_bytes=8192, stop_endpoint=False)
    _, result = upload_to_new_class(svc)
    assert result.status == "failed" and "nothing was saved: the connection to" in result.error
    assert_nothing_kept(svc)
    assert bucket_keys(s3_fault.upstream.url, s3_fault.bucket) == []


def test_wrong_bucket(s3_settings, services_on, moto_server):
    svc = services_on(s3_settings.model_copy(update={"s3_bucket": "no-such-bucket"}))
    _, result = upload_to_new_class(svc)
    assert result.status == "failed"
    assert "storage unavailable, nothing was saved: bucket 'no-such-bucket' does not exist" in result.error
    assert_nothing_kept(svc)
    assert bucket_keys(moto_server.url, s3_settings.s3_bucket) == []


def test_bad_credentials(refusing_s3, services_on):
    svc = services_on(refusing_s3.settings)
    _, result = upload_to_new_class(svc)
    assert result.status == "failed"
    assert "storage unavailable, nothing was saved: the AWS credentials were refused" in result.error
    assert_nothing_kept(svc)


class ExplodingEmbedder(FakeEmbedder):
    """Fails after the file was uploaded, like a database or model failure would."""

    def __init__(self, before=lambda: None):
        super().__init__()
        self.before = before

    def embed(self, texts):
        self.before()
        raise RuntimeError("boom")


def test_failure_after_upload_removes_the_object(s3_settings, services_on, moto_server):
    svc = services_on(s3_settings, embedder=ExplodingEmbedder())
    _, result = upload_to_new_class(svc)
    assert result.status == "failed" and "nothing was saved" in result.error
    assert_nothing_kept(svc)
    assert bucket_keys(moto_server.url, s3_settings.s3_bucket) == []


def test_orphan_left_when_cleanup_cannot_reach_s3_is_found_and_fixed(s3_fault, services_on):
    # the upload succeeds, then processing fails while S3 refuses connections: the cleanup
    # cannot delete the object, so it is orphaned until `storage check --fix`
    svc = services_on(s3_fault.settings, embedder=ExplodingEmbedder(before=lambda: setattr(s3_fault, "refusing", True)))
    class_id, result = upload_to_new_class(svc)
    assert result.status == "failed"
    assert_nothing_kept(svc)
    s3_fault.refusing = False
    orphan = bucket_keys(s3_fault.upstream.url, s3_fault.bucket)
    assert len(orphan) == 1

    report = check(svc.db, svc.store)
    assert report["orphan_objects"] == [orphan[0].removeprefix("test-prefix/")] and not report["ok"]
    assert check(svc.db, svc.store, fix=True)["ok"]
    assert bucket_keys(s3_fault.upstream.url, s3_fault.bucket) == []


def test_upload_and_delete_on_s3(s3_settings, services_on, moto_server):
    svc = services_on(s3_settings)
    class_id, result = upload_to_new_class(svc)
    assert result.ok
    assert bucket_keys(moto_server.url, s3_settings.s3_bucket) == [
        f"test-prefix/classes/{class_id}/documents/{result.document_id}"]
    assert svc.documents.download(SYSTEM, result.document_id)[2] == TEXT
    url = svc.documents.download_url(SYSTEM, result.document_id)
    assert url.startswith(moto_server.url) and "X-Amz-Signature" in url
    svc.documents.delete(SYSTEM, result.document_id)
    assert bucket_keys(moto_server.url, s3_settings.s3_bucket) == []
