"""The real image: built, run and probed by scripts/docker_image_check.sh (a cold run takes ~5 minutes
here: engine install, debootstrap stand-in base, build). Where Docker cannot run it skips with the
script's reason; with DOCKER_IMAGE_CHECK=1 (CI, .ci/run) a skip is a failure, and DOCKER_IMAGE_CHECK=0
skips it on purpose. Also: the compose files and fly.toml run app and worker from that one image."""
from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = 77  # the script's exit code for "this machine cannot run Docker"
WORKER = ["python", "-m", "core", "worker"]


@pytest.mark.xdist_group("docker")
def test_image_builds_runs_answers_and_refuses_unsafe_settings():
    required = os.environ.get("DOCKER_IMAGE_CHECK")
    if required == "0":
        pytest.skip("DOCKER_IMAGE_CHECK=0")
    out = subprocess.run(["bash", str(ROOT / "scripts" / "docker_image_check.sh")], cwd=ROOT,
                         capture_output=True, text=True, timeout=1500)
    log = out.stdout[-6000:] + out.stderr[-3000:]
    if out.returncode == SKIPPED:
        reason = next((line for line in reversed(out.stdout.splitlines()) if line.startswith("SKIP:")), "SKIP: ?")
        if required == "1":
            pytest.fail(f"DOCKER_IMAGE_CHECK=1 but the image check skipped: {reason}\n{log}")
        pytest.skip(reason)
    assert out.returncode == 0, log
    # what the script promises to have seen, not only its exit code
    for seen in ("HEALTHCHECK: healthy", "cited: [('check.pdf', '2')]", "Refusing to start in production",
                 "refused: exit ", "PASS (image"):
        assert seen in out.stdout, f"missing {seen!r} in:\n{log}"
    print(out.stdout)  # the steps, with the image size and build time (pytest -rP, or CI's log on failure)


def _services(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())["services"]


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.prod.yml"])
def test_compose_runs_app_and_worker_from_one_image_after_one_migration(name):
    services = _services(name)
    app, worker, migrate = services["app"], services["worker"], services["migrate"]
    assert app["image"] == worker["image"] == migrate["image"]
    assert worker["command"] == WORKER
    assert migrate["command"] == ["python", "-m", "core", "migrate"] and migrate["restart"] == "no"
    assert "command" not in app  # the image's CMD: streamlit
    assert "ports" not in worker, "a worker serves nothing; it scales with --scale worker=N"
    assert worker["healthcheck"] == {"disable": True}  # the image's check polls the web server
    for svc in (app, worker):
        # only `migrate` migrates: app and workers never race it, or each other
        assert svc["environment"]["SKIP_MIGRATIONS"] == "1"
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # the worker reads the same database and store as the app
    same = {"DATABASE_URL", "STORAGE_BACKEND", "S3_BUCKET", "S3_PREFIX", "AWS_ENDPOINT_URL_S3",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AUTH_COOKIE_KEY", "APP_ENV"}
    assert {k: worker["environment"][k] for k in same} == {k: app["environment"][k] for k in same}


def test_fly_runs_app_and_worker_as_process_groups():
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    processes = fly["processes"]
    assert processes["worker"] == " ".join(WORKER)
    assert processes["app"] == "streamlit run app.py --server.address=0.0.0.0 --server.port=8501"
    assert fly["http_service"]["processes"] == ["app"], "only the app group serves the web"
    # machines never migrate: the release_command does, once per deploy, before any machine starts
    assert fly["env"]["SKIP_MIGRATIONS"] == "1" and fly["deploy"]["release_command"] == "python -m core migrate"
    for vm in fly["vm"]:
        assert set(vm.get("processes", processes)) <= set(processes)
