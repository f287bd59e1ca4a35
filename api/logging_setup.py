"""Structured application logs: one JSON object per line in LOG_FILE, with the request id, and with
e-mail addresses and card numbers redacted from every message."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from api.context import REQUEST_ID
from security.redact import redact

# Loggers of this project's packages; uvicorn's own access log stays on the console.
APP_LOGGERS = ("api", "desk", "security", "crew", "web_interface")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": REQUEST_ID.get(),
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class LogSetup:
    """Attaches one file handler to the project loggers; `close()` removes it (apps in tests come and go)."""

    def __init__(self, path: Path, level: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(JsonFormatter())
        for name in APP_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            if logger.level == logging.NOTSET:
                logger.setLevel(level.upper())

    def close(self) -> None:
        for name in APP_LOGGERS:
            logging.getLogger(name).removeHandler(self.handler)
        self.handler.close()
