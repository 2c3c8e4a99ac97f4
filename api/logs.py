"""Log lines of every process: one format, and no secret in any line.

An API key can reach a log inside a URL (``?token=`` / ``?accesskey=``), a header or a
message; every record is scrubbed on its way to the handler, whoever logged it (the
service, uvicorn, a library).
"""

from __future__ import annotations

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

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Lines to stderr in one format, through a handler that redacts secrets."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level)
