"""Configuration: value types, one options section per consumer, and the Settings that compose them."""
