"""faust-streaming processors: population sync, sector router, verification."""
