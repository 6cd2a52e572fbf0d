"""The seeded order flow the demo, the benchmarks and the tests run through the engine."""
