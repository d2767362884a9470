"""Everything that takes events off the bus: sector sinks, lag/health monitor, reconciler."""
