"""The status page at / and its JSON twin: the latest assessment as a person reads it."""
