"""Reconciliation: compare a sector database with the population database by bucketed digests
then rows (`check.py`), and repair the drift (`repair.py`)."""
