"""Backfill: fill a new or emptied sector database from the population database, then hand
over to the sector's sink with no gap (`replay.py`)."""
