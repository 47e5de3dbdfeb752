"""APP_ENV=production refuses unsafe settings, naming each; the example secrets file loads as
Streamlit Community Cloud loads it (secrets → environment → Settings)."""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from core.config import DEV_COOKIE_KEY, PLACEHOLDER_MARK, Settings
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / ".streamlit" / "secrets.toml.example"
GOOD_KEY = "C03JdR0rEd-jQ2OGso7ZsxTS5syTYMVQr0uS9Eh9zKJRM_b4"  # secrets.token_urlsafe(36)
SAFE = dict(app_env="production", auth_cookie_key=GOOD_KEY, storage_backend="s3", s3_bucket="b",
            database_url="postgresql+psycopg2://u:p@db.internal:5432/classgpt")


@pytest.fixture
def clean_env():
    """No setting leaks in from the machine, and whatever Streamlit puts in os.environ is undone."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.upper() in _env_names() or name.upper().startswith(("AWS_", "S3_")):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


def _env_names() -> set[str]:
    return {(f.validation_alias or n).upper() for n, f in Settings.model_fields.items()}


def test_safe_production_settings_pass():
    assert Settings(**SAFE).check().production_problems() == []


@pytest.mark.parametrize("override, setting", [
    ({"auth_cookie_key": DEV_COOKIE_KEY}, "AUTH_COOKIE_KEY"),
    ({"auth_cookie_key": ""}, "AUTH_COOKIE_KEY"),
    ({"auth_cookie_key": "short-but-not-default"}, "AUTH_COOKIE_KEY"),
    ({"auth_cookie_key": "x" * 40}, "AUTH_COOKIE_KEY"),  # long, but no secret
    ({"auth_cookie_key": "ab" * 24}, "AUTH_COOKIE_KEY"),
    ({"database_url": ""}, "DATABASE_URL"),
    ({"database_url": "sqlite:////tmp/x.db"}, "DATABASE_URL"),
    ({"storage_backend": "local"}, "STORAGE_BACKEND"),
    ({"s3_bucket": f"{PLACEHOLDER_MARK}-bucket"}, "S3_BUCKET"),
    ({"llm_base_url": "https://api.openai.com/v1"}, "LLM_MODEL"),  # where, but not which model
    ({"llm_base_url": "localhost:11434", "llm_model": "llama3.2"}, "LLM_BASE_URL"),
    ({"llm_base_url": "https://api.openai.com/v1", "llm_model": "gpt-4o-mini",
      "llm_api_key": f"sk-{PLACEHOLDER_MARK}"}, "LLM_API_KEY"),  # a secret's placeholder is seen too
])
def test_production_refuses_each_unsafe_setting_by_name(override, setting):
    settings = Settings(**{**SAFE, **override})
    with pytest.raises(ConfigError) as err:
        settings.check()
    assert setting in str(err.value)
    assert str(err.value).startswith("Refusing to start in production")
    problems = str(err.value).split("\n- ")[1:]
    assert len(problems) == 1 and problems[0].startswith(setting), problems  # that one, and only it


def test_missing_cookie_key_from_the_environment_is_refused(clean_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", SAFE["database_url"])
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("S3_BUCKET", "b")
    with pytest.raises(ConfigError, match="AUTH_COOKIE_KEY"):
        Settings().check()


def test_explicit_overrides_accept_sqlite_and_local_disk():
    settings = Settings(**{**SAFE, "database_url": "", "storage_backend": "local",
                           "allow_sqlite_in_production": True, "allow_local_storage_in_production": True})
    assert settings.check().production_problems() == []


def test_language_model_settings():
    configured = Settings(**SAFE, llm_base_url="http://ollama.internal:11434/v1", llm_model="llama3.2")
    assert configured.check().llm_enabled and configured.production_problems() == []
    assert not Settings(**SAFE).llm_enabled  # nothing set: extractive, offline
    half = Settings(app_env="development", llm_base_url="http://localhost:11434/v1")
    assert not half.llm_enabled and half.check()  # development starts, extractive, and says why
    assert any(n.startswith("LLM_MODEL is empty") for n in half.notices())


def test_every_problem_is_listed_at_once():
    message = str(pytest.raises(ConfigError, Settings(app_env="production").check).value)
    for name in ("AUTH_COOKIE_KEY", "DATABASE_URL", "STORAGE_BACKEND"):
        assert name in message


def test_development_starts_with_defaults():
    assert Settings(app_env="development").check().app_env == "development"


# ---- the example secrets, loaded the way Streamlit Community Cloud does -------------------------------
def load_as_streamlit_cloud(secrets_toml: Path) -> Settings:
    """Streamlit reads secrets.toml, copies top-level str/int/float values into os.environ,
    and the app builds Settings from the environment."""
    from streamlit import config
    from streamlit.runtime.secrets import Secrets

    before = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(secrets_toml)])
    try:
        assert Secrets().load_if_toml_exists()
        return Settings()
    finally:
        config.set_option("secrets.files", before)


def filled_in(example: str) -> str:
    """The example with every placeholder replaced, as an operator would."""
    values = {
        "AUTH_COOKIE_KEY": "v4yqUcPH07FX-zVanH0A0nJ_D6pqfxljMBkrZbimZAJm1z2N",
        "DATABASE_URL": "postgresql+psycopg2://classgpt:pw@db.example.net:5432/classgpt?sslmode=require",
        "S3_BUCKET": "classgpt-files",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrEXAMPLE",
    }
    out = []
    for line in example.splitlines():
        m = re.match(r"^([A-Z0-9_]+)\s*=", line)
        if m and m.group(1) in values:
            line = f'{m.group(1)} = "{values[m.group(1)]}"'
        out.append(line)
    text = "\n".join(out) + "\n"
    left = [k for k, v in tomllib.loads(text).items() if PLACEHOLDER_MARK in str(v)]
    assert not left, f"placeholders with no replacement in this test: {left}"
    return text


def test_example_lists_every_setting():
    keys = set(tomllib.loads(EXAMPLE.read_text()))
    assert _env_names() <= keys, f"missing from the example: {sorted(_env_names() - keys)}"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= keys


def test_example_has_no_booleans_streamlit_would_drop():
    # Streamlit promotes only str/int/float secrets to environment variables
    for key, value in tomllib.loads(EXAMPLE.read_text()).items():
        assert not isinstance(value, (bool, dict, list)), f"{key} would not reach the environment"


def test_example_as_is_is_refused_naming_the_placeholders(clean_env, tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text(EXAMPLE.read_text())
    settings = load_as_streamlit_cloud(path)
    assert os.environ["APP_ENV"] == "production"
    with pytest.raises(ConfigError) as err:
        settings.check()
    for name in ("AUTH_COOKIE_KEY", "DATABASE_URL", "S3_BUCKET"):
        assert name in str(err.value)


def test_example_filled_in_passes_validation(clean_env, tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text(filled_in(EXAMPLE.read_text()))
    settings = load_as_streamlit_cloud(path)
    assert settings.check() is settings
    assert settings.app_env == "production"
    assert settings.storage_backend == "s3" and settings.s3_bucket == "classgpt-files"
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg2://")
    assert settings.allow_sqlite_in_production is False
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"  # boto3's credential chain reads these


def test_real_secrets_file_is_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignored
