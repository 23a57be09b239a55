"""Pure joins of source data on broker id (no I/O, no clock, no logging)."""
