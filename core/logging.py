"""Logging filters shared by every process (settings.LOGGING)."""

from __future__ import annotations

import logging


class ClientErrorFilter(logging.Filter):
    """For loggers whose records are a client's mistake, not ours (Django's request-size guards:
    the client got a 413 or 400 that says why): one WARNING line, without the traceback that
    would bury real errors in the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
