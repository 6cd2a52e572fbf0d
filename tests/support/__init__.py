"""What the tests and the benchmarks share: gateway launchers, FIX clients, engine fixtures."""
