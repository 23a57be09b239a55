"""The frozen data the sources produce; no I/O, imports nothing of the package but itself."""
