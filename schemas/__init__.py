"""Data contracts of the bus: Avro schemas, pydantic models and domain validation.

This package imports nothing else of ours (DESIGN.md §2).
"""
