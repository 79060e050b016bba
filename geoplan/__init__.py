"""geoplan: plan small and medium industrial development zones on the Korean peninsula.

The pipeline, one module per stage::

    scenario -> layers (load, validate) -> regions (belts) -> candidates
    -> criteria -> mcda (transform, weight, aggregate) -> prioritize
    -> webmap / export

Modules are exposed as namespaces (``geoplan.layers.load``); the most used
functions are re-exported here.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _metadata_version

from geoplan import layers as layers
from geoplan import network as network
from geoplan import regions as regions
from geoplan import settings as settings
from geoplan import terrain as terrain
from geoplan._errors import (
    ExportError,
    GeoplanError,
    LayerError,
    LayerReadError,
    LayerValidationError,
    ScenarioError,
)
from geoplan.layers import load, load_all

try:
    __version__ = _metadata_version("geoplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ExportError",
    "GeoplanError",
    "LayerError",
    "LayerReadError",
    "LayerValidationError",
    "ScenarioError",
    "__version__",
    "layers",
    "load",
    "load_all",
    "network",
    "regions",
    "settings",
    "terrain",
]
