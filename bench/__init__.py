"""Benchmarks and the fault-injection soak: scripts that print figures, never timed tests."""
