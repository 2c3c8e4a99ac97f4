"""Log lines of every process: one format, and no secret in any line.

An API key can reach a log inside a URL (``?token=`` / ``?accesskey=``), a header or a
message; every record is scrubbed on its way to the handler, whoever logged it (the
service, uvicorn, a library).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REDACTED = "[redacted]"

_SECRETS = [
    (re.compile(r"(?i)\b(token|accesskey)=[^&\s\"']+"), rf"\1={REDACTED}"),
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\bodk_[A-Za-z0-9_\-]+"), f"odk_{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with every key in it redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is written (as logging's last resort
    does), so a replaced stderr never leaves the handler writing to a closed stream."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


# What a request's line carries besides its message (api/http/middleware.py).
REQUEST_FIELDS = ("request_id", "method", "route", "status", "duration_ms", "customer_id")


class JSONLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and a request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: getattr(record, k) for k in REQUEST_FIELDS if hasattr(record, k)})
        if record.exc_info or record.exc_text:
            line["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line, ensure_ascii=False)


class Text(logging.Formatter):
    """The plain line, with a request's id and customer at its end."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", "")
        if request_id:
            line += f" {request_id}"
            customer = getattr(record, "customer_id", "")
            if customer:
                line += f" customer={customer}"
        return line


def configure_logging(level: int = logging.INFO, log_format: str = "text") -> None:
    """Lines to stderr in one format (``text`` or ``json``), through a handler that
    redacts secrets."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, RedactSecrets) for f in h.filters)]
    handler = ours[0] if ours else _Stderr()
    handler.setFormatter(JSONLines() if log_format == "json" else Text(LOG_FORMAT))
    if not ours:
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level)
