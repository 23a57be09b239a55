"""Sources: one module per external system, each polled in the background."""

from typing import Protocol, TypeVar

T_co = TypeVar("T_co", covariant=True)


class SourceError(Exception):
    """A source could not produce data this poll; the message says why, without secrets."""


class Source(Protocol[T_co]):
    """Something polled on an interval that returns immutable data."""

    @property
    def name(self) -> str:
        """Return the value of the `source` label."""
        ...

    async def collect(self) -> T_co:
        """Return fresh data, or raise SourceError."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
