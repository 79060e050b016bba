"""The geoplan exception hierarchy.

Every error a user can cause derives from :class:`GeoplanError` and also from
the matching built-in type, so callers may catch either. The CLI turns any
``GeoplanError`` into one line per problem and exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ExportError",
    "GeoplanError",
    "LayerError",
    "LayerReadError",
    "LayerValidationError",
    "ScenarioError",
]


class GeoplanError(Exception):
    """Base class of every error geoplan raises on purpose."""

    def lines(self) -> list[str]:
        """Return the error as one line per problem, for the CLI."""
        return [str(self)]


class LayerError(GeoplanError, ValueError):
    """A layer could not be found, read or used."""


class LayerReadError(LayerError, OSError):
    """A layer file is missing, unreadable, truncated or of an unknown format."""


class LayerValidationError(LayerError):
    """A layer was read but breaks one or more rules; all problems are carried."""

    def __init__(self, problems: Iterable[object]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class ScenarioError(GeoplanError, ValueError):
    """A scenario file is malformed; all problems are carried, one per key path."""

    def __init__(self, problems: Iterable[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return list(self.problems)


class ExportError(GeoplanError, OSError):
    """An output could not be written (nothing partial is left behind)."""
