"""Shared kernel of the bus: settings, topology, client config, serde wiring, stack, CLI."""

__version__ = "0.1.0"
