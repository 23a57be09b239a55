"""Pure-logic tests with hand-built inputs, laid out like the package."""
