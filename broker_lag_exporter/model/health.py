"""How a source's polls are going: the store keeps one per source."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Health:
    """How a source's polls are going."""

    up: bool = False
    duration_seconds: float = 0.0
    last_success: float | None = None
    errors_total: int = 0
    last_error: str | None = None
