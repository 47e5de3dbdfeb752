"""What the real-browser tests share: Debian's Chromium through Playwright, a `streamlit run app.py`
server with its own data directory, and waiting for Streamlit to be idle.

Skips when /usr/bin/chromium (or the playwright package) is missing, unless REQUIRE_BROWSER=1
(.ci/run sets it): then a missing browser is a failure.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from loadtest.system import free_port, healthy  # the load test starts its servers the same way

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("CLASSGPT_ARTIFACTS", ROOT / "artifacts")) / "browser"
STEP = 30_000  # ms: one UI step
SLOW_STEP = 120_000  # ms: the first upload may wait for the model to load
_UNSET = {"DATABASE_URL", "STORAGE_BACKEND", "USE_S3", "S3_BUCKET", "ADMIN_EMAILS", "APP_ENV"}


def require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -r requirements-dev.txt)"
    if problem:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)


@contextmanager
def streamlit_server(data: Path, embedder: str, log_name: str = "server.log") -> Iterator[tuple[str, float]]:
    """`streamlit run app.py` on a free port over `data`; yields (url, the time it was up)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(DATA_DIR=str(data), AUTH_COOKIE_KEY=secrets.token_urlsafe(48), EMBEDDER=embedder,
               PYTHONUNBUFFERED="1")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (ARTIFACTS / log_name).open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not come up; see {ARTIFACTS / log_name}")
            time.sleep(0.1)
        yield url, time.monotonic()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def running_app(tmp_path_factory, *, embedder: str = "fake", log_name: str = "server.log") -> Iterator[tuple]:
    """(url, services, browser): a server and the test's own services over the same fresh data
    directory (SQLite, local files), for seeding accounts and classes without clicking."""
    require_browser()
    from core.config import Settings
    from core.services import build_services

    data = tmp_path_factory.mktemp("browser-data")
    services = build_services(Settings(data_dir=data, embedder=embedder, database_url="", storage_backend="local"),
                              migrate=True)
    try:
        with streamlit_server(data, embedder, log_name) as (url, _), chromium() as browser:
            yield url, services, browser
    finally:
        services.db.engine.dispose()


IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') !== 'running'
        && !document.querySelector('[data-stale="true"]');
}"""


def settle(page, quiet_ms: int = 400) -> None:
    """Wait until Streamlit has been idle (no run, no stale element) for quiet_ms: a rerun that a
    run requests (st.rerun, a component value) starts a moment after the first run ends."""
    deadline = time.monotonic() + SLOW_STEP / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        if page.evaluate(IDLE_JS):
            quiet_since = quiet_since or time.monotonic()
            if (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(50)
    raise AssertionError("the app did not become idle")
