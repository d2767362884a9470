"""Options every long-running `databus run ...` component shares, and its logging set-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def metrics_port_option(command: F) -> F:
    """`--metrics-port P`: serve /metrics, /healthz and /readyz (0, the default: do not)."""
    return click.option(
        "--metrics-port",
        default=0,
        show_default=True,
        help="Serve /metrics, /healthz and /readyz on PORT of DATABUS_METRICS_HOST (default "
        "127.0.0.1; 0: do not serve).",
    )(command)


def linger_option(command: F) -> F:
    """`--linger S` of the faust workers' adaptive batches (`streams.batching`), default 0."""
    return click.option(
        "--linger",
        default=0.0,
        show_default=True,
        type=click.FloatRange(min=0.0),
        help="Hand out a batch smaller than --batch-size no sooner than S seconds after the "
        "previous one (an idle worker's first event still goes at once; the longest extra wait "
        "of an event); 0: a batch is whatever arrived while the previous one was applied.",
    )(command)


def log_level_option(command: F) -> F:
    """`--log-level debug|info|warning|error` (default warning)."""
    return click.option(
        "--log-level",
        default="warning",
        show_default=True,
        type=click.Choice(["debug", "info", "warning", "error"]),
    )(command)


def setup_logging(log_level: str) -> None:
    """Log lines with time, level and logger at `log_level`."""
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
