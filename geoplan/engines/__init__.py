"""Execution engines: where the grid's criteria and scores are computed.

The default in-memory engine is :mod:`geoplan.pipeline` itself. This package
holds the optional ones (``dask``); it owns engine selection and must not
change what a run computes (every engine gives the same ranking).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENGINES", "get_engine"]

#: Engine names accepted by ``geoplan run --engine`` and ``Session(engine=...)``.
ENGINES = ("memory", "dask")


def get_engine(name: str | None, **options: Any) -> Any:
    """The engine object for ``name`` (``None`` for the in-memory engine).

    Examples
    --------
    >>> get_engine("memory") is None
    True
    """
    from geoplan._errors import ScenarioError

    if name in (None, "memory"):
        return None
    if name == "dask":
        from geoplan.engines.dask import DaskEngine

        return DaskEngine(**options)
    raise ScenarioError(f"engine: unknown '{name}'; expected one of {', '.join(ENGINES)}")
