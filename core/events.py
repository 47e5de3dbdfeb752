"""Structured, one-line-per-event logs (JSON): login, upload, ask, errors with a correlation id.

Fly.io and Streamlit Cloud collect stdout/stderr; one JSON object per line is what their
log search and any log shipper parse without configuration.
"""
from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import datetime, timezone

EVENT_LOGGER = "classgpt.events"
log = logging.getLogger(EVENT_LOGGER)


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                   "level": record.levelname.lower()}
        fields = getattr(record, "fields", None)
        if fields:
            payload.update(fields)
        else:
            payload.update({"logger": record.name, "message": record.getMessage()})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure_event_logging(level: str = "INFO", stream=None) -> None:
    """Send events as JSON lines to stderr (idempotent: safe on every Streamlit rerun)."""
    if any(getattr(h, "_classgpt", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler._classgpt = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:12]


def log_event(event: str, level: int = logging.INFO, exc_info: bool = False, **fields: object) -> None:
    log.log(level, event, extra={"fields": {"event": event, **fields}}, exc_info=exc_info)


def log_error(event: str, error: BaseException, **fields: object) -> str:
    """Log an unexpected error with a fresh correlation id; returns the id to show the user."""
    cid = new_correlation_id()
    log_event(event, level=logging.ERROR, exc_info=True, correlation_id=cid,
              error=f"{type(error).__name__}: {error}", **fields)
    return cid
