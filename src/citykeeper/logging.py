"""Structured logs: ``event key=value …`` lines, values from ``extra={...}``."""

from __future__ import annotations

import logging

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        pairs = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line
