"""Two app instances, one truth: separate processes with separate DATA_DIRs share one
PostgreSQL database and one bucket. What one ingests the other answers from; what one
deletes disappears from the other's answers (the per-class index_version)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
CHLOROPHYLL = ("Chlorophyll absorbs red and blue light and reflects green light, "
               "which is why leaves look green. ") * 10

# A long-lived instance: builds the services once (so its index cache lives across requests)
# and answers JSON commands on stdin, one per line.
WORKER = r"""
import json, sys
from core.config import Settings
from core.services import build_services
from core.services.actors import SYSTEM
from tests.factories import upload
svc = build_services(Settings(), migrate=True)  # as the app does at start
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd["op"] == "ask":
            out = svc.chat.ask(SYSTEM, cmd["class_id"], cmd["q"]).to_dict()
        elif cmd["op"] == "delete":
            svc.documents.delete(SYSTEM, cmd["document_id"]); out = {"deleted": cmd["document_id"]}
        elif cmd["op"] == "upload":
            r = upload(svc, SYSTEM, cmd["class_id"], cmd["filename"], cmd["text"].encode())
            out = {"status": r.status, "document_id": r.document_id, "error": r.error}
        out["store"] = svc.store.backend
    except Exception as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out), flush=True)
"""


@pytest.fixture
def shared_postgres() -> str:
    """A throwaway PostgreSQL database on TEST_DATABASE_URL's server (or the local default)."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    admin = create_engine(make_url(base or DEFAULT_PG).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"classgpt_twoinst_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        if base:
            raise
        pytest.skip("TEST_DATABASE_URL is unset and PostgreSQL is unreachable on 127.0.0.1:5432")
    yield make_url(base or DEFAULT_PG).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def instance_env(shared_postgres, s3_settings, tmp_path):
    """Environment for instance `name`: shared database and bucket, its own DATA_DIR."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_", "S3_", "STORAGE_", "DATA_", "DATABASE_", "USE_S3", "EMBEDDER"))}

    def env(name: str) -> dict[str, str]:
        data_dir = tmp_path / name
        data_dir.mkdir(exist_ok=True)
        return {**base, "DATABASE_URL": shared_postgres, "DATA_DIR": str(data_dir), "EMBEDDER": "fake",
                "STORAGE_BACKEND": "s3", "S3_BUCKET": s3_settings.s3_bucket, "S3_PREFIX": s3_settings.s3_prefix,
                "AWS_ENDPOINT_URL_S3": s3_settings.aws_endpoint_url_s3, "S3_ADDRESSING_STYLE": "path",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true"}

    return env


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "core", *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def local_files(env: dict) -> list[Path]:
    return [p for p in Path(env["DATA_DIR"]).rglob("*") if p.is_file() and p.suffix != ".db"]


def test_cli_instances_share_documents_through_database_and_bucket(instance_env, tmp_path):
    a, b = instance_env("a"), instance_env("b")
    cli(a, "migrate")  # the release step: once, before any instance serves
    class_id = json.loads(cli(a, "create-class", "--name", "Botany", "--json").stdout)["id"]
    source = tmp_path / "leaves.txt"
    source.write_text(CHLOROPHYLL)

    out = cli(a, "ingest", "--class", str(class_id), str(source)).stdout
    document_id = int(out.split("document ")[1].split(",")[0])
    answer = json.loads(cli(b, "ask", "--class", str(class_id), "--json", "Why do leaves look green?").stdout)
    assert [c["document"] for c in answer["citations"]][:1] == ["leaves.txt"]

    cli(b, "delete-document", str(document_id))
    answer = json.loads(cli(a, "ask", "--class", str(class_id), "--json", "Why do leaves look green?").stdout)
    assert answer["citations"] == []
    assert local_files(a) == [] and local_files(b) == []  # nothing on either instance's disk
    assert json.loads(cli(a, "storage", "check", "--json").stdout)["objects"] == 0


class Instance:
    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=REPO, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __call__(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        out = json.loads(line)
        assert "error" not in out or out.get("status"), (cmd, out)
        return out

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=20)


def test_running_instances_see_each_others_changes(instance_env, tmp_path):
    a_env = instance_env("a")
    cli(a_env, "migrate")
    class_id = json.loads(cli(a_env, "create-class", "--name", "Botany", "--json").stdout)["id"]
    a, b = Instance(a_env), Instance(instance_env("b"))
    try:
        question = "Why do leaves look green?"
        assert b(op="ask", class_id=class_id, q=question)["citations"] == []  # b caches an empty index
        up = a(op="upload", class_id=class_id, filename="leaves.txt", text=CHLOROPHYLL)
        assert up["status"] == "ready" and up["store"] == "s3"
        assert b(op="ask", class_id=class_id, q=question)["citations"][0]["document"] == "leaves.txt"
        assert a(op="ask", class_id=class_id, q=question)["citations"]  # a's cache now holds the document

        b(op="delete", document_id=up["document_id"])
        assert a(op="ask", class_id=class_id, q=question)["citations"] == []  # a's cached index was stale
    finally:
        a.close()
        b.close()
