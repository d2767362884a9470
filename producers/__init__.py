"""Everything that puts events on the bus: ministry SDK, outbox relay, file loader, generator."""
