"""Real Kafka for tests and the demo: cluster lifecycle, wire probe, CLI-tool oracles, clients."""
