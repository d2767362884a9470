"""Name an unexpected error for a log line without its message: its type and the frames it
passed through (file, line, function). An exception's message, or a traceback printed with it,
may hold the values it was raised about (a PIN, a name, SQL parameters); these never do."""

from __future__ import annotations

import traceback
from pathlib import Path

MAX_FRAMES = 8


def failure_trace(error: BaseException) -> str:
    """`TypeError at outbox.py:88 in write <- apply.py:140 in apply_batch <- ...`, innermost
    frame first, at most `MAX_FRAMES` frames; no message, no local value."""
    frames = traceback.extract_tb(error.__traceback__)[::-1][:MAX_FRAMES]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    return f"{type(error).__name__} at {where}" if where else type(error).__name__
