"""Shared output helpers: rich text for people, `--json` for scripts, errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def emit_json(data: Any) -> None:
    """Print machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error a user can act on and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise SystemExit(code)
