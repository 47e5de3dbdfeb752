"""Typed settings from the environment. Imports nothing from the rest of the app.

Streamlit secrets become environment variables before Settings() is built (see app.py),
so one object serves the CLI, the app and the tests.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Placeholder values that must never reach production.
DEV_COOKIE_KEY = "dev-only-cookie-key-change-me"
PLACEHOLDER_SECRETS = {"", DEV_COOKIE_KEY, "change-me", "changeme", "secret", "CHANGE_ME"}
# What .streamlit/secrets.toml.example puts where a real value must go.
PLACEHOLDER_MARK = "REPLACE_ME"
# An estimate, not a proof: random 32-character keys estimate at 93+ bits (hex) and 136+ bits
# (token_urlsafe), "x" * 40 at 0 and a repeated pair of characters at 40.
MIN_KEY_ENTROPY_BITS = 80


def estimated_entropy_bits(secret: str) -> float:
    """Length × the Shannon entropy of the secret's own characters: a lower bound for a random
    key's strength, and near zero for "xxxx…" or a repeated word."""
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values()) if secret else 0.0
    return per_char * len(secret)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite under data_dir

    storage_backend: Literal["local", "s3"] = "local"
    use_s3: bool = False  # the product plan's switch; same as STORAGE_BACKEND=s3
    s3_bucket: str = ""
    s3_prefix: str = ""
    aws_endpoint_url_s3: str = ""
    s3_addressing_style: Literal["auto", "virtual", "path"] = "auto"
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_DEFAULT_REGION")

    auth_cookie_key: str = DEV_COOKIE_KEY
    auth_cookie_name: str = "classgpt_auth"
    auth_cookie_expiry_days: float = 7
    # the request header in which the (last) proxy puts the client's address: Fly.io Fly-Client-IP,
    # Cloudflare CF-Connecting-IP, nginx X-Real-IP (of X-Forwarded-For only the last address is
    # used: the ones before it are the client's own claim); empty: the connection's own address
    client_ip_header: str = ""

    max_upload_mb: float = 50
    max_pages_per_document: int = 2000
    max_text_chars: int = 5_000_000  # ~1M words: about 5,500 passages to embed
    embedder: Literal["minilm", "fake"] = "minilm"
    embed_batch_size: int = 16  # measured: best raw and per-document throughput on 2 cores (docs/retrieval.md)
    # auto: bf16 where the CPU has AMX (where bf16 measured faster), else fp32; the vectors stay
    # float32 and comparable either way (docs/embedding.md)
    embed_precision: Literal["auto", "fp32", "bf16"] = "auto"
    chunk_words: int = 180
    chunk_overlap_words: int = 30

    # Who runs ingestion jobs (docs/jobs.md). auto: PostgreSQL's queue, taken by `python -m core
    # worker` processes, on PostgreSQL; a thread of the app process on SQLite. thread: in-process
    # on either database (one instance without workers); queue: PostgreSQL only.
    job_runner: Literal["auto", "queue", "thread"] = "auto"
    # times a worker may take one file before it is failed: a crash (or a kill) mid-job counts too,
    # so a file that brings its worker down every time cannot loop forever
    ingest_max_attempts: int = Field(default=3, ge=1, le=10)
    # SIGTERM to a worker: the running job may finish for this long, then goes back to the queue
    # (keep it under the platform's kill timeout: Fly's is 30 s in fly.toml)
    worker_stop_timeout_s: float = Field(default=20.0, ge=0)

    # The optional language model that writes answers from the numbered sources (docs/llm.md): any
    # OpenAI-compatible chat completions endpoint. Empty base URL: extractive answers, fully offline.
    llm_base_url: str = ""  # e.g. https://api.openai.com/v1, http://localhost:11434/v1 (Ollama)
    llm_api_key: SecretStr = SecretStr("")  # SecretStr: repr and logs show ********** only
    llm_model: str = ""
    # per request, and the whole answer's budget: a student waits for the stream, then falls back
    llm_timeout_s: float = 30
    llm_max_retries: int = 1  # one retry rides out a blip; more would keep the student waiting

    # explicit operator overrides of the production safety checks
    allow_sqlite_in_production: bool = False
    allow_local_storage_in_production: bool = False

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _apply_switches(self) -> "Settings":
        if self.use_s3:
            self.storage_backend = "s3"
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            # Heroku/Fly style "postgres://" is not a SQLAlchemy dialect name
            if self.database_url.startswith("postgres://"):
                return "postgresql+psycopg2://" + self.database_url[len("postgres://"):]
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'classgpt.db').as_posix()}"

    @property
    def queued_jobs(self) -> bool:
        """Ingestion goes through PostgreSQL's queue to worker processes; else a thread of this process."""
        return self.job_runner == "queue" or (
            self.job_runner == "auto" and self.sqlalchemy_url.startswith("postgresql"))

    @property
    def llm_enabled(self) -> bool:
        """A language model writes the answers: where (base URL) and which (model) are both set and valid."""
        return bool(self.llm_base_url.strip() and self.llm_model.strip()) and not self.llm_problems()

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe for APP_ENV=production, each naming the setting."""
        problems = [
            f"{(field.validation_alias or name).upper()} still holds the example's placeholder "
            f"{PLACEHOLDER_MARK}: set the real value"
            for name, field in type(self).model_fields.items()
            if PLACEHOLDER_MARK in _plain(getattr(self, name))
        ]
        if (self.auth_cookie_key.strip() in PLACEHOLDER_SECRETS or len(self.auth_cookie_key) < 32
                or estimated_entropy_bits(self.auth_cookie_key) < MIN_KEY_ENTROPY_BITS):
            problems.append(
                "AUTH_COOKIE_KEY is missing, a placeholder, shorter than 32 characters or not random "
                f"(under {MIN_KEY_ENTROPY_BITS} bits of entropy): set a random secret "
                "(e.g. `python -c 'import secrets;print(secrets.token_urlsafe(48))'`)"
            )
        if self.sqlalchemy_url.startswith("sqlite") and not self.allow_sqlite_in_production:
            problems.append(
                "DATABASE_URL points at SQLite, which lives on one machine's (possibly ephemeral) disk: "
                "set DATABASE_URL to PostgreSQL, or ALLOW_SQLITE_IN_PRODUCTION=true to accept that"
            )
        if self.storage_backend == "local" and not self.allow_local_storage_in_production:
            problems.append(
                "STORAGE_BACKEND is local, so uploads live on one machine's disk: set STORAGE_BACKEND=s3 "
                "with S3_BUCKET, or ALLOW_LOCAL_STORAGE_IN_PRODUCTION=true to accept that"
            )
        if self.storage_backend == "s3" and not self.s3_bucket:
            problems.append("S3_BUCKET is empty but STORAGE_BACKEND=s3")
        problems.extend(self.llm_problems())
        return problems

    def llm_problems(self) -> list[str]:
        """A half-configured language model: without these checks answers would silently stay extractive."""
        if not self.llm_base_url.strip():
            return []
        problems = []
        if not self.llm_base_url.strip().lower().startswith(("http://", "https://")):
            problems.append("LLM_BASE_URL is not an http:// or https:// URL "
                            "(e.g. https://api.openai.com/v1 or http://localhost:11434/v1)")
        if not self.llm_model.strip():
            problems.append("LLM_MODEL is empty but LLM_BASE_URL is set: name the model (or deployment) that "
                            "writes the answers, or clear LLM_BASE_URL for extractive answers")
        if self.llm_timeout_s <= 0 or self.llm_max_retries < 0:
            problems.append("LLM_TIMEOUT_S must be above 0 and LLM_MAX_RETRIES 0 or more")
        return problems

    def notices(self) -> list[str]:
        """Settings that do not do what an operator may expect (logged at start)."""
        notices = []
        if os.environ.get("ADMIN_EMAILS", "").strip():  # read by earlier versions; no field here any more
            notices.append("ADMIN_EMAILS is no longer read: registering never makes anyone an administrator. "
                           "Make one with `python -m core grant-admin EMAIL` (or `create-user --admin`).")
        if self.app_env != "production":  # production refuses these instead (production_problems)
            notices.extend(f"{p}; answers stay extractive until it is fixed" for p in self.llm_problems())
        return notices

    def check(self) -> "Settings":
        """Refuse to start with unsafe settings in production; returns self for chaining."""
        from core.errors import ConfigError

        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ConfigError("S3_BUCKET is empty but STORAGE_BACKEND=s3 (or USE_S3=true)")
        if self.job_runner == "queue" and not self.sqlalchemy_url.startswith("postgresql"):
            raise ConfigError("JOB_RUNNER=queue needs PostgreSQL (DATABASE_URL); on SQLite jobs run in the "
                              "app's own thread (JOB_RUNNER=auto or thread)")
        if self.app_env == "production":
            problems = self.production_problems()
            if problems:
                raise ConfigError("Refusing to start in production:\n- " + "\n- ".join(problems))
        return self


def _plain(value: object) -> str:
    """A setting's value as text, secrets included: a placeholder left in a secret is still a placeholder."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
