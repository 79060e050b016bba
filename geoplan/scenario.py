"""Scenarios: YAML merged over the shipped default, validated into typed, immutable objects.

What this module owns: reading a scenario (file, mapping or nothing), merging
it key by key over ``geoplan/scenarios/default.yaml``, dotted overrides
(``--set``), resolving paths against the scenario file's folder, and turning
the result into frozen dataclasses. It imports nothing from the engine:
checks that need layers or the criterion registry (fields, criterion
``params``) live in :func:`geoplan.pipeline.check`.

Merge rules (user over default)
-------------------------------
- Mappings merge key by key, recursively; ``null`` removes a key
  (``profiles: {port_logistics: null}`` drops that profile).
- ``profiles`` merge by profile name; a profile's ``criteria`` merge by
  criterion name (given as a list of items with ``criterion:`` or as a
  mapping keyed by criterion name); a new criterion is appended, ``null``
  (or ``{criterion: x, remove: true}``) removes one.
- ``criteria`` and ``layers`` merge by name.
- Every other list (``phase_rules``, ``mask_layers``, ``ahp.matrix``,
  ``order_weights``) is replaced whole.
- ``only_profiles: [a, b]`` runs only those profiles (the others stay
  defined, so ``--set`` can still name them).

Every problem is collected and raised together as one
:class:`~geoplan.ScenarioError`, one line each with its key path, e.g.
``profiles.labour_intensive.criteria[2].weight: must be >= 0, got -1``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import types
import warnings
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from geoplan import mcda
from geoplan._errors import ScenarioError

__all__ = [
    "Aggregation",
    "Candidates",
    "CriterionSpec",
    "PhaseRule",
    "Profile",
    "ProfileCriterion",
    "Scenario",
    "default_path",
    "load_scenario",
    "merge",
    "parse_overrides",
]

BELT_NAMES = ("west_coast", "east_coast", "border")
#: Where a site outside every belt is reported.
INLAND = "inland"
SIZE_CLASSES = ("small", "medium")
OUTPUT_KINDS = ("map", "geopackage", "geotiff", "csv", "report")
LANGUAGES = ("en", "ko")
#: Layer values that name a file; other values name a default layer.
_PATH_KEYS_IN_PARAMS = ("path",)


def default_path() -> Path:
    """Path of the shipped default scenario.

    Examples
    --------
    >>> default_path().name
    'default.yaml'
    """
    return Path(str(resources.files("geoplan").joinpath("scenarios", "default.yaml")))


# --------------------------------------------------------------------------- typed objects


def _freeze(value: Any) -> Any:
    """Deep-freeze plain data: mappings become read-only, lists tuples."""
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """Inverse of :func:`_freeze`: plain dicts and lists (for YAML and JSON)."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class LayerSource:
    """Where a named layer comes from: a default layer name or a file (``file.gpkg::layer``)."""

    name: str
    path: str
    layer: str | None = None
    encoding: str | None = None


@dataclasses.dataclass(frozen=True)
class BeltWidthsKm:
    """Belt widths and the DMZ half width, in km."""

    west_coast_km: float
    east_coast_km: float
    border_km: float
    dmz_half_width_km: float


@dataclasses.dataclass(frozen=True)
class Constraints:
    """Hard constraints: mask layers, and a slope limit on a DEM."""

    mask_layers: tuple[str, ...] = ()
    max_slope_deg: float | None = None
    slope_dem: str | None = None


@dataclasses.dataclass(frozen=True)
class GridSpec:
    """The candidate grid: resolution and an optional WGS84 ``(lon0, lat0, lon1, lat1)`` clip."""

    resolution_m: float
    bbox: tuple[float, float, float, float] | None = None


@dataclasses.dataclass(frozen=True)
class SizeClass:
    """A zone size class: its admissible range and the area zones are grown to."""

    name: str
    min_km2: float
    max_km2: float
    target_km2: float


@dataclasses.dataclass(frozen=True)
class Candidates:
    """Candidate zones and listed sites."""

    sites_layer: str
    zones_per_belt: int
    zone_size: str
    size_classes: Mapping[str, SizeClass]
    min_spacing_km: float
    name_within_km: float


@dataclasses.dataclass(frozen=True)
class CriterionSpec:
    """A criterion: how its raw value is computed for a candidate."""

    name: str
    kind: str
    layer: str | None
    where: Mapping[str, Any]
    params: Mapping[str, Any]
    description: str = ""
    unit: str = ""
    label: Mapping[str, str] = dataclasses.field(default_factory=lambda: _freeze({}))

    def key(self) -> str:
        """A stable digest of what determines the raw values (for caching)."""
        blob = json.dumps(
            {
                "kind": self.kind,
                "layer": self.layer,
                "where": _thaw(self.where),
                "params": _thaw(self.params),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ProfileCriterion:
    """One criterion in a profile: which, how transformed, how weighted."""

    criterion: str
    transform: Mapping[str, Any]
    weight: float
    min_value: float | None = None


@dataclasses.dataclass(frozen=True)
class Profile:
    """An industry profile: criteria, transforms and normalised weights (direct or AHP)."""

    name: str
    description: str
    criteria: tuple[ProfileCriterion, ...]
    weights: np.ndarray
    ahp: mcda.AHPResult | None = None
    ahp_matrix: tuple[tuple[float, ...], ...] | None = None
    zone_size: str = "medium"
    label: Mapping[str, str] = dataclasses.field(default_factory=lambda: _freeze({}))

    @property
    def criterion_names(self) -> list[str]:
        """The profile's criteria, in order."""
        return [pc.criterion for pc in self.criteria]


@dataclasses.dataclass(frozen=True)
class Aggregation:
    """How transformed criterion scores combine: ``weighted_sum`` or ``owa``."""

    method: str = "weighted_sum"
    order_weights: tuple[float, ...] | None = None


@dataclasses.dataclass(frozen=True)
class PhaseRule:
    """A phase rule: the first rule whose ``when`` matches a candidate gives its phase."""

    phase: int
    when: Mapping[str, Any]
    reason: str


@dataclasses.dataclass(frozen=True)
class Prioritisation:
    """Phase rules, and the ``top_k`` robustness is reported for."""

    phase_rules: tuple[PhaseRule, ...]
    top_k: int = 3


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """Monte Carlo weight sensitivity (``draws: 0`` switches it off in ``run``)."""

    draws: int = 0
    seed: int = 0
    concentration: float = 100.0
    ahp_step_prob: float = 0.3
    top_k: int = 3
    cell_share: bool = False


@dataclasses.dataclass(frozen=True)
class Outputs:
    """Which outputs ``run`` writes, and in which language."""

    map: bool = True
    geopackage: bool = True
    geotiff: bool = True
    csv: bool = True
    report: bool = True
    language: str = "en"

    def kinds(self) -> set[str]:
        """The output kinds switched on."""
        return {k for k in OUTPUT_KINDS if getattr(self, k)}


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A validated, immutable scenario.

    Build one with :func:`load_scenario`; derive variants with
    :meth:`replace`. ``data`` is the effective scenario (defaults filled in,
    paths resolved) as read-only plain data, for ``to_yaml`` and run records;
    the engine reads the typed attributes.

    Examples
    --------
    >>> sc = load_scenario()
    >>> sc.grid.resolution_m
    250.0
    >>> sc2 = sc.replace("profiles.labour_intensive.criteria.labour_pool.weight", 0.6)
    >>> round(float(sc2.profiles["labour_intensive"].weights[0]), 3)  # 0.6 / 1.25
    0.48
    """

    name: str
    description: str
    crs: str
    layers: Mapping[str, LayerSource]
    belts: BeltWidthsKm
    constraints: Constraints
    grid: GridSpec
    candidates: Candidates
    criteria: Mapping[str, CriterionSpec]
    profiles: Mapping[str, Profile]
    aggregation: Aggregation
    prioritisation: Prioritisation
    sensitivity: Sensitivity
    outputs: Outputs
    source: str
    base_dir: str
    data: Mapping[str, Any] = dataclasses.field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The effective scenario as plain data."""
        return _thaw(self.data)

    def to_yaml(self) -> str:
        """The effective scenario as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def replace(self, key: str | Mapping[str, Any], value: Any = None) -> Scenario:
        """Return a new, validated scenario with one value (or several) changed.

        Parameters
        ----------
        key : str or mapping
            A dotted key path (``"grid.resolution_m"``;
            ``"profiles.labour_intensive.criteria.labour_pool.weight"``
            addresses a profile criterion by name; ``[i]`` indexes lists),
            or a mapping ``{key: value}`` of several.
        value : any
            The new value (``None`` removes the entry).

        Returns
        -------
        Scenario

        Examples
        --------
        >>> sc = load_scenario().replace({"grid.resolution_m": 500, "candidates.zones_per_belt": 2})
        >>> sc.grid.resolution_m, sc.candidates.zones_per_belt
        (500.0, 2)
        """
        changes = dict(key) if isinstance(key, Mapping) else {str(key): value}
        data = self.to_dict()
        for k, v in changes.items():
            data = merge(data, _nested(k, v))
        return _validated(data, self.source, self.base_dir)

    def with_profiles(self, names: list[str] | tuple[str, ...]) -> Scenario:
        """Keep only the named profiles (phase rules naming others become warnings)."""
        unknown = [n for n in names if n not in self.profiles]
        if unknown:
            raise ScenarioError(
                [f"--profile: unknown '{n}'" + _suggest(n, list(self.profiles)) for n in unknown]
            )
        data = self.to_dict()
        data["only_profiles"] = list(names)
        return _validated(data, self.source, self.base_dir)

    def digest(self) -> str:
        """SHA-256 of the effective scenario (sorted JSON)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


# --------------------------------------------------------------------------- schema
# A schema node is ("map", {key: node}), ("dict_of", node), ("list_of", node) or a leaf check.


def _num(lo: float | None = None, hi: float | None = None, *, strict_lo: bool = False):
    return ("num", lo, hi, strict_lo)


_NUM = (int, float)
TRANSFORM = ("transform", None)
_LABEL = ("label",)
_PROFILE_CRITERION = (
    "map",
    {
        "criterion": ("str",),
        "transform": TRANSFORM,
        "weight": _num(0),
        "min_value": ("num", None, None, False),
        "remove": ("bool",),
    },
)
SCHEMA: dict[str, Any] = {
    "name": ("str",),
    "description": ("str",),
    "crs": ("str",),
    "layers": ("dict_of", ("layer_source",)),
    "only_profiles": ("list_of", ("str",)),
    "belts": (
        "map",
        {
            "west_coast_km": _num(0, 500, strict_lo=True),
            "east_coast_km": _num(0, 500, strict_lo=True),
            "border_km": _num(0, 500, strict_lo=True),
            "dmz_half_width_km": _num(0, 50),
        },
    ),
    "constraints": (
        "map",
        {
            "mask_layers": ("list_of", ("str",)),
            "max_slope_deg": _num(0, 90, strict_lo=True),
            "slope_dem": ("str",),
        },
    ),
    "grid": (
        "map",
        {"resolution_m": _num(25, 5000), "bbox": ("bbox",)},
    ),
    "candidates": (
        "map",
        {
            "sites_layer": ("str",),
            "zones_per_belt": ("int", 0, 50),
            "zone_size": ("choice", SIZE_CLASSES),
            "size_classes_km2": (
                "map",
                {"small": ("range", 0.05, 100.0), "medium": ("range", 0.05, 100.0)},
            ),
            "target_km2": ("map", {"small": _num(0.05, 100), "medium": _num(0.05, 100)}),
            "min_spacing_km": _num(0, 500),
            "name_within_km": _num(0, 100),
        },
    ),
    "criteria": (
        "dict_of",
        (
            "map",
            {
                "kind": ("str",),
                "layer": ("str",),
                "where": ("dict_any",),
                "params": ("dict_any",),
                "description": ("str",),
                "unit": ("str",),
                "label": _LABEL,
            },
        ),
    ),
    "profiles": (
        "dict_of",
        (
            "map",
            {
                "description": ("str",),
                "label": _LABEL,
                "zone_size": ("choice", SIZE_CLASSES),
                "criteria": ("list_of", _PROFILE_CRITERION),
                "ahp": (
                    "map",
                    {
                        "matrix": ("list_of", ("list_of", _num(0, strict_lo=True))),
                        "accept_inconsistent": ("bool",),
                    },
                ),
            },
        ),
    ),
    "aggregation": (
        "map",
        {
            "method": ("choice", ("weighted_sum", "owa")),
            "order_weights": ("list_of", _num(0)),
        },
    ),
    "prioritisation": (
        "map",
        {
            "top_k": ("int", 1, 100),
            "phase_rules": (
                "list_of",
                (
                    "map",
                    {
                        "phase": ("int", 1, 3),
                        "reason": ("str",),
                        "when": (
                            "map",
                            {
                                "kind": ("choice", ("zone", "site")),
                                "belt": ("list_or_str",),
                                "profile": ("list_or_str",),
                                "size_class": ("list_or_str",),
                                "score_min": _num(0, 1),
                                "rank_in_belt_max": ("int", 1, 10_000),
                                "near_site_km": _num(0, 1000),
                            },
                        ),
                    },
                ),
            ),
        },
    ),
    "sensitivity": (
        "map",
        {
            "draws": ("int", 0, 1_000_000),
            "seed": ("int", 0, 2**63 - 1),
            "concentration": _num(0, None, strict_lo=True),
            "ahp_step_prob": _num(0, 1),
            "top_k": ("int", 1, 100),
            "cell_share": ("bool",),
        },
    ),
    "outputs": (
        "map",
        {
            "map": ("bool",),
            "geopackage": ("bool",),
            "geotiff": ("bool",),
            "csv": ("bool",),
            "report": ("bool",),
            "language": ("choice", LANGUAGES),
        },
    ),
}


def _suggest(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of: {', '.join(options)}" if options else ""


def _short(value: Any) -> str:
    """A value for a message: at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(value: Any, node: tuple, path: str, errs: list[str], user: bool = False) -> None:
    """Check ``value`` against a schema node; ``user``: a user's overlay (``null`` removes)."""
    if user and value is None:
        return
    kind = node[0]
    if user and kind == "list_of" and node[1] is _PROFILE_CRITERION and isinstance(value, Mapping):
        for k, v in value.items():  # the mapping form: {criterion name: item}
            _check(v, node[1], f"{path}.{k}", errs, user)
        return
    if kind == "map":
        if not isinstance(value, Mapping):
            errs.append(f"{path}: must be a mapping, got {type(value).__name__}")
            return
        spec = node[1]
        for k, v in value.items():
            if k not in spec:
                errs.append(f"{path}.{k}: unknown key" + _suggest(str(k), list(spec)))
            else:
                _check(v, spec[k], f"{path}.{k}", errs, user)
    elif kind == "dict_of":
        if not isinstance(value, Mapping):
            errs.append(f"{path}: must be a mapping, got {type(value).__name__}")
            return
        for k, v in value.items():
            if not isinstance(k, str):
                errs.append(f"{path}: key {_short(k)} must be text")
                continue
            _check(v, node[1], f"{path}.{k}", errs, user)
    elif kind == "dict_any":
        if not isinstance(value, Mapping):
            errs.append(f"{path}: must be a mapping, got {type(value).__name__}")
    elif kind == "list_of":
        if not isinstance(value, list):
            errs.append(f"{path}: must be a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            _check(v, node[1], f"{path}[{i}]", errs, user)
    elif kind == "str":
        if not isinstance(value, str):
            errs.append(f"{path}: must be text, got {_short(value)}")
    elif kind == "label":
        ok = isinstance(value, str) or (
            isinstance(value, Mapping)
            and all(k in LANGUAGES and isinstance(v, str) for k, v in value.items())
        )
        if not ok:
            errs.append(f"{path}: must be text or a mapping {{en: ..., ko: ...}}")
    elif kind == "layer_source":
        if isinstance(value, Mapping):
            _check(
                value,
                ("map", {"path": ("str",), "layer": ("str",), "encoding": ("str",)}),
                path,
                errs,
            )
            if "path" not in value:
                errs.append(f"{path}.path: missing")
        elif not isinstance(value, str):
            errs.append(f"{path}: must be a path (text) or a mapping with 'path'")
    elif kind == "bool":
        if not isinstance(value, bool):
            errs.append(f"{path}: must be true or false, got {_short(value)}")
    elif kind == "list_or_str":
        if not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(x, str) for x in value))
        ):
            errs.append(f"{path}: must be a name or a list of names, got {_short(value)}")
    elif kind == "choice":
        options = list(node[1])
        if value not in options:
            errs.append(f"{path}: unknown value {_short(value)}" + _suggest(str(value), options))
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errs.append(f"{path}: must be a whole number, got {_short(value)}")
        elif not node[1] <= value <= node[2]:
            errs.append(f"{path}: must be {node[1]}..{node[2]}, got {value}")
    elif kind == "num":
        _, lo, hi, strict = node
        if not isinstance(value, _NUM) or isinstance(value, bool):
            errs.append(f"{path}: must be a number, got {_short(value)}")
        elif not math.isfinite(value):
            errs.append(f"{path}: must be a finite number, got {value}")
        elif lo is not None and (value <= lo if strict else value < lo):
            errs.append(f"{path}: must be {'>' if strict else '≥'} {lo:g}, got {value:.6g}")
        elif hi is not None and value > hi:
            errs.append(f"{path}: must be ≤ {hi:g}, got {value:.6g}")
    elif kind == "range":
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, _NUM) and not isinstance(v, bool) for v in value)
        )
        if not ok or not (node[1] <= value[0] < value[1] <= node[2]):
            errs.append(f"{path}: must be [min, max] with {node[1]} ≤ min < max ≤ {node[2]}")
    elif kind == "bbox":
        ok = (
            isinstance(value, list)
            and len(value) == 4
            and all(isinstance(v, _NUM) and not isinstance(v, bool) for v in value)
            and all(math.isfinite(v) for v in value)
        )
        if not ok:
            errs.append(f"{path}: must be [lon0, lat0, lon1, lat1] (WGS84 degrees)")
        elif not (value[0] < value[2] and value[1] < value[3]):
            errs.append(f"{path}: must have lon0 < lon1 and lat0 < lat1, got {value}")
        elif not (
            -180 <= value[0] <= 180
            and -180 <= value[2] <= 180
            and -90 <= value[1] <= 90
            and -90 <= value[3] <= 90
        ):
            errs.append(f"{path}: lon must lie in -180..180 and lat in -90..90, got {value}")
    elif kind == "transform":
        _check_transform(value, path, errs)


_TRANSFORM_KEYS = {
    "linear": ({"low", "high"}, {"direction"}),
    "sigmoid": ({"midpoint", "spread"}, {"direction"}),
    "gaussian": ({"ideal", "spread"}, set()),
    "step": ({"threshold"}, {"direction"}),
    "categorical": ({"mapping"}, {"default"}),
}


def _check_transform(value: Any, path: str, errs: list[str]) -> None:
    if not isinstance(value, Mapping):
        errs.append(f"{path}: must be a mapping with a 'type'")
        return
    t = value.get("type")
    if t not in _TRANSFORM_KEYS:
        errs.append(f"{path}.type: unknown {_short(t)}" + _suggest(str(t), list(_TRANSFORM_KEYS)))
        return
    required, optional = _TRANSFORM_KEYS[t]
    for k in sorted(required - set(value)):
        errs.append(f"{path}.{k}: missing (needed by a {t} transform)")
    for k in value:
        if k != "type" and k not in required | optional:
            errs.append(f"{path}.{k}: unknown key" + _suggest(str(k), sorted(required | optional)))
    for k in ("low", "high", "midpoint", "spread", "ideal", "threshold", "default"):
        if k in value and (
            not isinstance(value[k], _NUM)
            or isinstance(value[k], bool)
            or not math.isfinite(value[k])
        ):
            errs.append(f"{path}.{k}: must be a finite number, got {_short(value[k])}")
    if "direction" in value and value["direction"] not in ("rising", "falling"):
        errs.append(f"{path}.direction: must be 'rising' or 'falling', got {value['direction']!r}")
    lin = t == "linear" and all(
        isinstance(value.get(k), _NUM) and not isinstance(value.get(k), bool)
        for k in ("low", "high")
    )
    if lin and value["low"] >= value["high"]:
        errs.append(f"{path}: low must be < high, got {value['low']} ≥ {value['high']}")
    if (
        "spread" in value
        and isinstance(value["spread"], _NUM)
        and not isinstance(value["spread"], bool)
        and value["spread"] <= 0
    ):
        errs.append(f"{path}.spread: must be > 0, got {value['spread']}")
    if t == "categorical" and "mapping" in value:
        m = value["mapping"]
        if not isinstance(m, Mapping) or not m:
            errs.append(f"{path}.mapping: must be a non-empty mapping {{value: score}}")
        else:
            for k, v in m.items():
                if not isinstance(v, _NUM) or isinstance(v, bool) or not 0 <= v <= 1:
                    errs.append(f"{path}.mapping.{k}: must be a score 0..1, got {_short(v)}")


# --------------------------------------------------------------------------- merge


def _criteria_map(items: Any, path: str) -> dict[str, Any] | None:
    """A profile's criteria as an ordered mapping by criterion name (None if malformed)."""
    if isinstance(items, Mapping):
        out = {}
        for k, v in items.items():
            if v is None:
                out[str(k)] = None
            elif isinstance(v, Mapping):
                out[str(k)] = {
                    "criterion": str(k),
                    **{a: b for a, b in v.items() if a != "criterion"},
                }
            else:
                return None
        return out
    if isinstance(items, list):
        out = {}
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("criterion"), str):
                return None
            out[item["criterion"]] = dict(item)
        return out
    return None


def _merge_profile(base: Mapping[str, Any], user: Mapping[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in user.items():
        if k != "criteria":
            if v is None:
                out.pop(k, None)
            elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
                out[k] = merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
            continue
        mine = _criteria_map(v, path)
        theirs = _criteria_map(out.get("criteria", []), path)
        if mine is None or theirs is None:
            out["criteria"] = copy.deepcopy(v)  # malformed: validation reports it
            continue
        for name, item in mine.items():
            if item is None or (isinstance(item, Mapping) and item.get("remove") is True):
                theirs.pop(name, None)
            elif name in theirs and theirs[name] is not None:
                theirs[name] = merge(theirs[name], item)
            else:
                theirs[name] = copy.deepcopy(dict(item))
        out["criteria"] = [dict(x) for x in theirs.values() if x is not None]
    return out


def merge(base: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a user scenario over a base one, key by key (see the module docstring).

    Examples
    --------
    >>> merge({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}})
    {'a': {'x': 1, 'z': 3}}
    """
    out = copy.deepcopy(dict(base))
    for k, v in user.items():
        if v is None:
            out.pop(k, None)
        elif k == "profiles" and isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            profs = dict(out[k])
            for pname, p in v.items():
                if p is None:
                    profs.pop(pname, None)
                elif isinstance(p, Mapping) and isinstance(profs.get(pname), Mapping):
                    profs[pname] = _merge_profile(profs[pname], p, f"profiles.{pname}")
                elif isinstance(p, Mapping):
                    crit = _criteria_map(p.get("criteria", []), f"profiles.{pname}")
                    new = copy.deepcopy(dict(p))
                    if crit is not None:
                        new["criteria"] = [dict(x) for x in crit.values() if x is not None]
                    profs[pname] = new
                else:
                    profs[pname] = copy.deepcopy(p)
            out[k] = profs
        elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _nested(key: str, value: Any) -> dict[str, Any]:
    """``"a.b.c", v`` -> ``{"a": {"b": {"c": v}}}``; profile criteria addressed by name."""
    parts = _split_key(key)
    if not parts:
        raise ScenarioError(f"--set {key}: empty key")
    out: Any = value
    for i in range(len(parts) - 1, -1, -1):
        part = parts[i]
        if isinstance(part, int):
            raise ScenarioError(
                f"--set {key}: list indexes are not supported here; set the whole list "
                "(e.g. --set 'constraints.mask_layers=[a, b]')"
            )
        out = {part: out}
    return out


def _split_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in key.split("."):
        if not raw:
            raise ScenarioError(f"--set {key}: empty part in the key; expected e.g. grid.bbox")
        name, _, rest = raw.partition("[")
        if name:
            parts.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            if not idx.isdigit():
                raise ScenarioError(f"--set {key}: bad index [{idx}]")
            parts.append(int(idx))
            rest = rest.lstrip("[")
    return parts


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (values read as YAML scalars) into a mapping.

    Examples
    --------
    >>> parse_overrides(["grid.resolution_m=500", "name=test"])
    {'grid.resolution_m': 500, 'name': 'test'}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f"--set {item}: expected KEY=VALUE, e.g. grid.resolution_m=500")
        out[key] = _parse_scalar(text, f"--set {key}")
    return out


def _parse_scalar(text: str, where: str) -> Any:
    try:
        from geoplan._yaml import parse_yaml
    except ImportError:  # pragma: no cover - until the safe reader lands
        parse_yaml = None
    if parse_yaml is not None:
        return parse_yaml(text, where) if text.strip() else None
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: value is not valid YAML ({exc})") from exc


# --------------------------------------------------------------------------- reading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        from geoplan._yaml import read_yaml_file
    except ImportError:  # pragma: no cover - until the safe reader lands
        read_yaml_file = None
    if read_yaml_file is not None:
        data = read_yaml_file(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise ScenarioError(
                f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
            ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: must be a YAML mapping at the top level")
    return data


def _base() -> dict[str, Any]:
    return _read_yaml(default_path())


def load_scenario(
    scenario: str | Path | Mapping[str, Any] | Scenario | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Read, merge over the default, override and validate a scenario.

    Parameters
    ----------
    scenario : path, mapping, Scenario or None
        A YAML file, a mapping (merged over the default like a file), an
        existing scenario, or ``None`` for the shipped default.
    overrides : mapping, optional
        Dotted keys to values, applied last (``{"grid.resolution_m": 500}``).
    base_dir : path, optional
        Folder relative paths in a mapping resolve against (default: the
        current folder; for a file, always the file's folder).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Every problem, one line each with its key path.

    Examples
    --------
    >>> sc = load_scenario({"grid": {"resolution_m": 1000}})
    >>> sc.name.startswith("script-"), sc.grid.resolution_m
    (True, 1000.0)
    """
    if isinstance(scenario, Scenario):
        return scenario.replace(dict(overrides)) if overrides else scenario
    base = _base()
    if scenario is None:
        data, source, folder = base, "default", Path.cwd() if base_dir is None else Path(base_dir)
        user: Mapping[str, Any] = {}
    elif isinstance(scenario, Mapping):
        user = scenario
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
        source = "script"
    else:
        p = Path(scenario)
        user = _read_yaml(p)
        folder = p.resolve().parent
        source = str(p)
    if scenario is not None:  # an empty file or mapping is the default under its own name
        errs: list[str] = []
        _check(user, ("map", SCHEMA), "scenario", errs, user=True)
        if errs:
            raise ScenarioError([e.replace("scenario.", "", 1) for e in errs])
        data = merge(base, _resolve_paths(user, folder))
        if "name" not in user:
            if source == "script":
                blob = json.dumps(user, sort_keys=True, default=str).encode()
                data["name"] = "script-" + hashlib.sha256(blob).hexdigest()[:8]
            else:
                data["name"] = Path(source).stem
    if overrides:
        ov_errs: list[str] = []
        for k, v in overrides.items():
            nested = _resolve_paths(_nested(k, v), folder)
            _check(nested, ("map", SCHEMA), "scenario", ov_errs, user=True)
            data = merge(data, nested)
        if ov_errs:
            raise ScenarioError([e.replace("scenario.", "", 1) for e in ov_errs])
    return _validated(data, source, str(folder))


def _is_default_layer_name(text: str) -> bool:
    return "/" not in text and "\\" not in text and not Path(text).suffix and "::" not in text


def _resolve(text: str, folder: Path) -> str:
    path, sep, sub = text.partition("::")
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = folder / p
    return str(p) + (sep + sub if sep else "")


def _resolve_paths(user: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """Resolve file paths in a user scenario against ``folder``."""
    out = copy.deepcopy(dict(user))
    layers = out.get("layers")
    if isinstance(layers, Mapping):
        fixed: dict[str, Any] = {}
        for name, src in layers.items():
            if isinstance(src, str) and not _is_default_layer_name(src):
                fixed[name] = _resolve(src, folder)
            elif isinstance(src, Mapping) and isinstance(src.get("path"), str):
                s = dict(src)
                if not _is_default_layer_name(s["path"]):
                    s["path"] = _resolve(s["path"], folder)
                fixed[name] = s
            else:
                fixed[name] = src
        out["layers"] = fixed
    crit = out.get("criteria")
    if isinstance(crit, Mapping):
        for spec in crit.values():
            params = spec.get("params") if isinstance(spec, Mapping) else None
            if isinstance(params, dict):
                for k in _PATH_KEYS_IN_PARAMS:
                    if isinstance(params.get(k), str):
                        params[k] = _resolve(params[k], folder)
    cons = out.get("constraints")
    if isinstance(cons, dict) and isinstance(cons.get("slope_dem"), str):
        cons["slope_dem"] = _resolve(cons["slope_dem"], folder)
    return out


# --------------------------------------------------------------------------- validation


def _validated(data: dict[str, Any], source: str, base_dir: str) -> Scenario:
    errs: list[str] = []
    _check(data, ("map", SCHEMA), "scenario", errs)
    if errs:
        raise ScenarioError([e.replace("scenario.", "", 1) for e in errs])
    sc = _build(data, errs, source, base_dir)
    if errs:
        raise ScenarioError(errs)
    assert sc is not None
    return sc


def _label(value: Any) -> Mapping[str, str]:
    if isinstance(value, str):
        return _freeze({"en": value})
    return _freeze(dict(value or {}))


def _iter_names(vals: Any) -> Iterator[str]:
    yield from ([vals] if isinstance(vals, str) else vals or [])


def _build(data: dict[str, Any], errs: list[str], source: str, base_dir: str) -> Scenario | None:
    """Cross-key checks (references, AHP consistency, weights, rules) and the typed objects."""
    for key in (
        "name",
        "crs",
        "belts",
        "grid",
        "candidates",
        "criteria",
        "profiles",
        "aggregation",
        "prioritisation",
        "outputs",
    ):
        if key not in data:
            errs.append(f"{key}: missing (removed with null?)")
    if errs:
        return None
    name = str(data["name"])
    if not name.strip():
        errs.append("name: must not be empty")
    criteria: dict[str, CriterionSpec] = {}
    for cname, c in data["criteria"].items():
        if "kind" not in c:
            errs.append(f"criteria.{cname}.kind: missing")
            continue
        if c["kind"] not in ("raster", "slope") and "layer" not in c:
            errs.append(f"criteria.{cname}.layer: missing (a {c['kind']} criterion needs a layer)")
        criteria[cname] = CriterionSpec(
            name=cname,
            kind=str(c["kind"]),
            layer=c.get("layer"),
            where=_freeze(dict(c.get("where") or {})),
            params=_freeze(dict(c.get("params") or {})),
            description=str(c.get("description", "")),
            unit=str(c.get("unit", "")),
            label=_label(c.get("label")),
        )
    cand = data["candidates"]
    for key in (
        "sites_layer",
        "zones_per_belt",
        "zone_size",
        "size_classes_km2",
        "target_km2",
        "min_spacing_km",
    ):
        if key not in cand:
            errs.append(f"candidates.{key}: missing")
    defined = list(data["profiles"])
    only = data.get("only_profiles")
    if only:
        unknown = [p for p in only if p not in data["profiles"]]
        for p in unknown:
            errs.append(
                f"only_profiles: unknown profile '{p}'" + _suggest(p, list(data["profiles"]))
            )
        data = {**data, "profiles": {k: v for k, v in data["profiles"].items() if k in only}}
    profiles: dict[str, Profile] = {}
    if not data["profiles"]:
        errs.append("profiles: at least one profile is needed")
    for pname, p in data["profiles"].items():
        prof = _profile(pname, p, criteria, cand.get("zone_size", "medium"), errs)
        if prof is not None:
            profiles[pname] = prof
    agg = data["aggregation"]
    ow = agg.get("order_weights")
    if agg.get("method") == "owa":
        if not ow:
            errs.append("aggregation.order_weights: needed by owa")
        else:
            if sum(ow) <= 0:
                errs.append("aggregation.order_weights: must not all be 0")
            for pname, prof in profiles.items():
                if len(ow) != len(prof.criteria):
                    errs.append(
                        f"aggregation.order_weights: {len(ow)} values, but profile '{pname}' "
                        f"has {len(prof.criteria)} criteria"
                    )
    rules = []
    for i, rule in enumerate(data["prioritisation"].get("phase_rules", [])):
        when = rule.get("when", {})
        if "phase" not in rule:
            errs.append(f"prioritisation.phase_rules[{i}].phase: missing")
            continue
        for v in _iter_names(when.get("profile")):
            if v not in defined:
                warnings.warn(
                    f"prioritisation.phase_rules[{i}].when.profile: no profile '{v}' in this "
                    "scenario; the rule never matches it" + _suggest(v, defined),
                    UserWarning,
                    stacklevel=4,
                )
        for v in _iter_names(when.get("belt")):
            known = [*BELT_NAMES, INLAND]
            if v not in known:
                errs.append(
                    f"prioritisation.phase_rules[{i}].when.belt: unknown '{v}'" + _suggest(v, known)
                )
        for v in _iter_names(when.get("size_class")):
            if v not in SIZE_CLASSES:
                errs.append(
                    f"prioritisation.phase_rules[{i}].when.size_class: unknown '{v}'"
                    + _suggest(v, list(SIZE_CLASSES))
                )
        rules.append(
            PhaseRule(int(rule["phase"]), _freeze(dict(when)), str(rule.get("reason", "")))
        )
    if not rules:
        errs.append("prioritisation.phase_rules: at least one rule is needed")
    layers = {}
    for lname, src in (data.get("layers") or {}).items():
        if isinstance(src, Mapping):
            path, _, sub = str(src["path"]).partition("::")
            layers[lname] = LayerSource(
                lname, path, src.get("layer") or sub or None, src.get("encoding")
            )
        else:
            path, _, sub = str(src).partition("::")
            layers[lname] = LayerSource(lname, path, sub or None)
    cons = data.get("constraints") or {}
    if cons.get("max_slope_deg") is not None and not cons.get("slope_dem"):
        errs.append("constraints.slope_dem: missing (max_slope_deg needs a DEM)")
    sizes, targets = cand.get("size_classes_km2", {}), cand.get("target_km2", {})
    size_classes = {}
    for cls in SIZE_CLASSES:
        if cls not in sizes or cls not in targets:
            errs.append(f"candidates.size_classes_km2.{cls}: missing (with target_km2.{cls})")
            continue
        lo, hi = sizes[cls]
        t = targets[cls]
        if not lo <= t <= hi:
            errs.append(
                f"candidates.target_km2.{cls}: must lie in size_classes_km2.{cls} "
                f"[{lo}, {hi}], got {t}"
            )
        size_classes[cls] = SizeClass(cls, float(lo), float(hi), float(t))
    if errs:
        return None
    b = data["belts"]
    g = data["grid"]
    sens = data.get("sensitivity") or {}
    outs = data["outputs"]
    return Scenario(
        name=name,
        description=str(data.get("description", "")),
        crs=str(data["crs"]),
        layers=types.MappingProxyType(layers),
        belts=BeltWidthsKm(
            float(b["west_coast_km"]),
            float(b["east_coast_km"]),
            float(b["border_km"]),
            float(b["dmz_half_width_km"]),
        ),
        constraints=Constraints(
            tuple(cons.get("mask_layers") or ()),
            float(cons["max_slope_deg"]) if cons.get("max_slope_deg") is not None else None,
            cons.get("slope_dem"),
        ),
        grid=GridSpec(
            float(g["resolution_m"]), tuple(float(v) for v in g["bbox"]) if g.get("bbox") else None
        ),
        candidates=Candidates(
            sites_layer=str(cand["sites_layer"]),
            zones_per_belt=int(cand["zones_per_belt"]),
            zone_size=str(cand["zone_size"]),
            size_classes=types.MappingProxyType(size_classes),
            min_spacing_km=float(cand["min_spacing_km"]),
            name_within_km=float(cand.get("name_within_km", 5.0)),
        ),
        criteria=types.MappingProxyType(criteria),
        profiles=types.MappingProxyType(profiles),
        aggregation=Aggregation(
            str(agg.get("method", "weighted_sum")), tuple(float(x) for x in ow) if ow else None
        ),
        prioritisation=Prioritisation(tuple(rules), int(data["prioritisation"].get("top_k", 3))),
        sensitivity=Sensitivity(
            draws=int(sens.get("draws", 0)),
            seed=int(sens.get("seed", 0)),
            concentration=float(sens.get("concentration", 100.0)),
            ahp_step_prob=float(sens.get("ahp_step_prob", 0.3)),
            top_k=int(sens.get("top_k", data["prioritisation"].get("top_k", 3))),
            cell_share=bool(sens.get("cell_share", False)),
        ),
        outputs=Outputs(**{k: outs[k] for k in (*OUTPUT_KINDS, "language") if k in outs}),
        source=source,
        base_dir=base_dir,
        data=_freeze(data),
    )


def _profile(
    pname: str,
    p: Mapping[str, Any],
    criteria: Mapping[str, CriterionSpec],
    default_size: str,
    errs: list[str],
) -> Profile | None:
    items = p.get("criteria", [])
    if not items:
        errs.append(f"profiles.{pname}.criteria: at least one criterion is needed")
        return None
    pcs = []
    n_errs = len(errs)
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"profiles.{pname}.criteria[{i}]"
        cname = item.get("criterion")
        if cname is None:
            errs.append(f"{where}.criterion: missing")
        elif cname not in criteria:
            errs.append(f"{where}.criterion: unknown '{cname}'" + _suggest(cname, list(criteria)))
        elif cname in seen:
            errs.append(f"{where}.criterion: '{cname}' appears twice in the profile")
        seen.add(str(cname))
        if "transform" not in item:
            errs.append(f"{where}.transform: missing")
        if "weight" not in item and "ahp" not in p:
            errs.append(f"{where}.weight: missing (or give profiles.{pname}.ahp)")
        pcs.append(
            ProfileCriterion(
                criterion=str(cname),
                transform=_freeze(dict(item.get("transform", {}))),
                weight=float(item.get("weight", 0.0)),
                min_value=float(item["min_value"]) if item.get("min_value") is not None else None,
            )
        )
    if len(errs) > n_errs:
        return None
    ahp_res = None
    matrix = None
    if "ahp" in p:
        matrix = p["ahp"].get("matrix")
        if matrix is None:
            errs.append(f"profiles.{pname}.ahp.matrix: missing")
            return None
        if len(matrix) != len(pcs) or any(len(r) != len(pcs) for r in matrix):
            errs.append(
                f"profiles.{pname}.ahp.matrix: must be {len(pcs)}x{len(pcs)} "
                f"(one row per criterion, in the order of profiles.{pname}.criteria)"
            )
            return None
        try:
            ahp_res = mcda.ahp(matrix)
        except ScenarioError as exc:
            errs.append(f"profiles.{pname}.{exc}")
            return None
        if not ahp_res.consistent and not p["ahp"].get("accept_inconsistent", False):
            errs.append(
                f"profiles.{pname}.ahp.matrix: inconsistent judgements, consistency ratio "
                f"{ahp_res.consistency_ratio:.3f} > 0.10 (set accept_inconsistent: true "
                "to use it anyway)"
            )
            return None
        weights = ahp_res.weights
    else:
        raw = [pc.weight for pc in pcs]
        if sum(raw) <= 0:
            errs.append(f"profiles.{pname}.criteria: weights must not all be 0")
            return None
        if not math.isfinite(sum(raw)):  # huge finite weights (1e308 twice) overflow the sum
            top = max(raw)
            raw = [w / top for w in raw]
        weights = mcda.normalise_weights(raw, where=f"profiles.{pname}.criteria weights")
    weights = np.asarray(weights, dtype=float)
    weights.setflags(write=False)
    return Profile(
        name=pname,
        description=str(p.get("description", "")),
        criteria=tuple(pcs),
        weights=weights,
        ahp=ahp_res,
        ahp_matrix=tuple(tuple(float(x) for x in r) for r in matrix) if matrix else None,
        zone_size=str(p.get("zone_size", default_size)),
        label=_label(p.get("label")),
    )
