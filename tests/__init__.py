"""The test suite: unit tests mirror the package; integration tests run real servers."""
