"""Leader election: exactly one router leads, a standby takes over."""
