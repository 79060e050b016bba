"""Scenario files (YAML): validated into typed objects, every problem with its key path.

Unknown keys are errors with a did-you-mean suggestion; every value is
range-checked; all problems are collected and raised together as one
:class:`~geoplan.ScenarioError` (one line each, e.g.
``profiles.labour_intensive.criteria[2].weight: must be >= 0, got -1``).
The shipped default scenario is ``geoplan/scenarios/default.yaml``; a user
file is merged over it (user keys win; ``profiles`` and ``criteria`` given by
the user replace the default ones wholesale).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from geoplan import mcda
from geoplan._errors import ScenarioError
from geoplan.criteria import REGISTRY

__all__ = ["Profile", "Scenario", "default_path", "load_scenario"]

PHASE_RULE_KEYS = ("kind", "belt", "profile", "score_min", "rank_in_belt_max")


def default_path() -> Path:
    """Path of the shipped default scenario."""
    return Path(str(resources.files("geoplan").joinpath("scenarios", "default.yaml")))


@dataclasses.dataclass(frozen=True)
class ProfileCriterion:
    """One criterion in a profile: which, how transformed, how weighted."""

    criterion: str
    transform: dict[str, Any]
    weight: float
    min_value: float | None = None


@dataclasses.dataclass(frozen=True)
class Profile:
    """An industry profile with normalised weights (direct or from AHP)."""

    name: str
    description: str
    criteria: tuple[ProfileCriterion, ...]
    weights: np.ndarray
    ahp: mcda.AHPResult | None = None


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``data`` is the effective scenario (defaults filled in)."""

    name: str
    data: dict[str, Any]
    profiles: dict[str, Profile]
    source: str

    def to_yaml(self) -> str:
        """The effective scenario as YAML."""
        return yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True)


# ----------------------------------------------------------------- schema
# A schema node is: a type tuple, ("map", {key: node}), ("dict_of", node),
# ("list_of", node), with checks given as (node, check) pairs.

_NUM = (int, float)


def _num(lo: float | None = None, hi: float | None = None, *, strict_lo: bool = False):
    return ("num", lo, hi, strict_lo)


TRANSFORM = ("transform", None)
SCHEMA: dict[str, Any] = {
    "name": ("str",),
    "description": ("str",),
    "crs": ("str",),
    "layers": ("dict_of", ("str",)),
    "belts": (
        "map",
        {
            "west_coast_km": _num(0, 500, strict_lo=True),
            "east_coast_km": _num(0, 500, strict_lo=True),
            "border_km": _num(0, 500, strict_lo=True),
            "dmz_half_width_km": _num(0, 50),
        },
    ),
    "constraints": ("map", {"mask_layers": ("list_of", ("str",))}),
    "grid": ("map", {"resolution_m": _num(25, 5000)}),
    "candidates": (
        "map",
        {
            "sites_layer": ("str",),
            "zones_per_belt": ("int", 0, 50),
            "zone_size": ("choice", ("small", "medium")),
            "size_classes_km2": (
                "map",
                {"small": ("range", 0.05, 100.0), "medium": ("range", 0.05, 100.0)},
            ),
            "target_km2": ("map", {"small": _num(0.05, 100), "medium": _num(0.05, 100)}),
            "min_spacing_km": _num(0, 500),
        },
    ),
    "criteria": (
        "dict_of",
        (
            "map",
            {
                "kind": ("choice_fn", lambda: sorted(REGISTRY)),
                "layer": ("str",),
                "where": ("dict_any",),
                "params": ("dict_any",),
                "description": ("str",),
                "unit": ("str",),
            },
        ),
    ),
    "profiles": (
        "dict_of",
        (
            "map",
            {
                "description": ("str",),
                "criteria": (
                    "list_of",
                    (
                        "map",
                        {
                            "criterion": ("str",),
                            "transform": TRANSFORM,
                            "weight": _num(0),
                            "min_value": ("num", None, None, False),
                        },
                    ),
                ),
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
                                "score_min": _num(0, 1),
                                "rank_in_belt_max": ("int", 1, 10_000),
                            },
                        ),
                    },
                ),
            )
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
        },
    ),
}


def _suggest(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(options)}"


def _check(value: Any, node: tuple, path: str, errs: list[str]) -> None:
    kind = node[0]
    if kind == "map":
        if not isinstance(value, Mapping):
            errs.append(f"{path}: must be a mapping, got {type(value).__name__}")
            return
        spec = node[1]
        for k, v in value.items():
            if k not in spec:
                errs.append(f"{path}.{k}: unknown key" + _suggest(str(k), list(spec)))
            else:
                _check(v, spec[k], f"{path}.{k}", errs)
    elif kind == "dict_of":
        if not isinstance(value, Mapping):
            errs.append(f"{path}: must be a mapping, got {type(value).__name__}")
            return
        for k, v in value.items():
            _check(v, node[1], f"{path}.{k}", errs)
    elif kind == "dict_any":
        if not isinstance(value, Mapping):
            errs.append(f"{path}: must be a mapping, got {type(value).__name__}")
    elif kind == "list_of":
        if not isinstance(value, list):
            errs.append(f"{path}: must be a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            _check(v, node[1], f"{path}[{i}]", errs)
    elif kind == "str":
        if not isinstance(value, str):
            errs.append(f"{path}: must be text, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            errs.append(f"{path}: must be true or false, got {value!r}")
    elif kind == "list_or_str":
        if not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(x, str) for x in value))
        ):
            errs.append(f"{path}: must be a name or a list of names, got {value!r}")
    elif kind in ("choice", "choice_fn"):
        options = list(node[1]() if kind == "choice_fn" else node[1])
        if value not in options:
            errs.append(f"{path}: unknown value {value!r}" + _suggest(str(value), options))
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errs.append(f"{path}: must be a whole number, got {value!r}")
        elif not node[1] <= value <= node[2]:
            errs.append(f"{path}: must be {node[1]}..{node[2]}, got {value}")
    elif kind == "num":
        _, lo, hi, strict = node
        if not isinstance(value, _NUM) or isinstance(value, bool):
            errs.append(f"{path}: must be a number, got {value!r}")
        elif not math.isfinite(value):
            errs.append(f"{path}: must be a finite number, got {value}")
        elif lo is not None and (value <= lo if strict else value < lo):
            errs.append(f"{path}: must be {'>' if strict else '≥'} {lo:g}, got {value:g}")
        elif hi is not None and value > hi:
            errs.append(f"{path}: must be ≤ {hi:g}, got {value:g}")
    elif kind == "range":
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, _NUM) and not isinstance(v, bool) for v in value)
        )
        if not ok or not (node[1] <= value[0] < value[1] <= node[2]):
            errs.append(f"{path}: must be [min, max] with {node[1]} ≤ min < max ≤ {node[2]}")
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
        errs.append(f"{path}.type: unknown {t!r}" + _suggest(str(t), list(_TRANSFORM_KEYS)))
        return
    required, optional = _TRANSFORM_KEYS[t]
    for k in sorted(required - set(value)):
        errs.append(f"{path}.{k}: missing (needed by a {t} transform)")
    for k in value:
        if k != "type" and k not in required | optional:
            errs.append(f"{path}.{k}: unknown key" + _suggest(k, sorted(required | optional)))
    for k in ("low", "high", "midpoint", "spread", "ideal", "threshold"):
        if k in value and (
            not isinstance(value[k], _NUM)
            or isinstance(value[k], bool)
            or not math.isfinite(value[k])
        ):
            errs.append(f"{path}.{k}: must be a finite number, got {value[k]!r}")
    if "direction" in value and value["direction"] not in ("rising", "falling"):
        errs.append(f"{path}.direction: must be 'rising' or 'falling', got {value['direction']!r}")
    lin = t == "linear" and all(isinstance(value.get(k), _NUM) for k in ("low", "high"))
    if lin and value["low"] >= value["high"]:
        errs.append(f"{path}: low must be < high, got {value['low']} ≥ {value['high']}")
    if "spread" in value and isinstance(value["spread"], _NUM) and value["spread"] <= 0:
        errs.append(f"{path}.spread: must be > 0, got {value['spread']}")


def _merge(base: dict[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in user.items():
        if k in ("profiles", "criteria", "layers") or not (
            isinstance(v, Mapping) and isinstance(out.get(k), Mapping)
        ):
            out[k] = copy.deepcopy(v)
        else:
            out[k] = _merge(out[k], v)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from exc
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


def load_scenario(path: str | Path | Mapping[str, Any] | None = None) -> Scenario:
    """Read, merge over the default, and validate a scenario.

    Parameters
    ----------
    path : path-like, optional
        A YAML file; ``None`` gives the default scenario.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Every problem, one line each with its key path.
    """
    base = _read_yaml(default_path())
    if isinstance(path, Mapping):  # an effective scenario, e.g. from a run.json
        return _validated(_merge(base, path), "run.json")
    if path is None:
        data, source = base, str(default_path())
    else:
        p = Path(path)
        user = _read_yaml(p)
        errs: list[str] = []
        _check(user, ("map", SCHEMA), p.name, errs)
        if errs:
            raise ScenarioError([e.replace(f"{p.name}.", "", 1) for e in errs])
        data = _merge(base, user)
        if "name" not in user:
            data["name"] = p.stem
        source = str(p)
    return _validated(data, source)


def _validated(data: dict[str, Any], source: str) -> Scenario:
    errs: list[str] = []
    _check(data, ("map", SCHEMA), "scenario", errs)
    if errs:
        raise ScenarioError([e.replace("scenario.", "", 1) for e in errs])
    profiles = _semantic(data, errs)
    if errs:
        raise ScenarioError(errs)
    return Scenario(str(data.get("name", "scenario")), data, profiles, source)


def _semantic(data: dict[str, Any], errs: list[str]) -> dict[str, Profile]:
    """Cross-key checks: references, AHP consistency, weights, rules."""
    criteria = data.get("criteria", {})
    for cname, c in criteria.items():
        if "kind" not in c:
            errs.append(f"criteria.{cname}.kind: missing")
        elif c["kind"] != "raster" and "layer" not in c:
            errs.append(f"criteria.{cname}.layer: missing (a {c['kind']} criterion needs a layer)")
    profiles: dict[str, Profile] = {}
    if not data.get("profiles"):
        errs.append("profiles: at least one profile is needed")
    for pname, p in data.get("profiles", {}).items():
        items = p.get("criteria", [])
        if not items:
            errs.append(f"profiles.{pname}.criteria: at least one criterion is needed")
            continue
        pcs = []
        for i, item in enumerate(items):
            where = f"profiles.{pname}.criteria[{i}]"
            cname = item.get("criterion")
            if cname is None:
                errs.append(f"{where}.criterion: missing")
            elif cname not in criteria:
                errs.append(
                    f"{where}.criterion: unknown '{cname}'" + _suggest(cname, list(criteria))
                )
            if "transform" not in item:
                errs.append(f"{where}.transform: missing")
            if "weight" not in item and "ahp" not in p:
                errs.append(f"{where}.weight: missing (or give profiles.{pname}.ahp)")
            pcs.append(
                ProfileCriterion(
                    criterion=str(cname),
                    transform=dict(item.get("transform", {})),
                    weight=float(item.get("weight", 0.0)),
                    min_value=item.get("min_value"),
                )
            )
        ahp_res = None
        if "ahp" in p:
            matrix = p["ahp"].get("matrix")
            if matrix is None:
                errs.append(f"profiles.{pname}.ahp.matrix: missing")
                continue
            if len(matrix) != len(pcs) or any(len(r) != len(pcs) for r in matrix):
                errs.append(
                    f"profiles.{pname}.ahp.matrix: must be {len(pcs)}x{len(pcs)} "
                    f"(one row per criterion)"
                )
                continue
            try:
                ahp_res = mcda.ahp(matrix)
            except ScenarioError as exc:
                errs.append(f"profiles.{pname}.{exc}")
                continue
            if not ahp_res.consistent and not p["ahp"].get("accept_inconsistent", False):
                errs.append(
                    f"profiles.{pname}.ahp.matrix: inconsistent judgements, consistency ratio "
                    f"{ahp_res.consistency_ratio:.3f} > 0.10 (set accept_inconsistent: true "
                    "to use it anyway)"
                )
                continue
            weights = ahp_res.weights
        else:
            raw = [pc.weight for pc in pcs]
            if sum(raw) <= 0:
                errs.append(f"profiles.{pname}.criteria: weights must not all be 0")
                continue
            weights = mcda.normalise_weights(raw, where=f"profiles.{pname}.criteria weights")
        profiles[pname] = Profile(
            pname, str(p.get("description", "")), tuple(pcs), weights, ahp_res
        )
    agg = data.get("aggregation", {})
    if agg.get("method") == "owa":
        ow = agg.get("order_weights")
        if not ow:
            errs.append("aggregation.order_weights: needed by owa")
        else:
            for pname, prof in profiles.items():
                if len(ow) != len(prof.criteria):
                    errs.append(
                        f"aggregation.order_weights: {len(ow)} values, but profile '{pname}' "
                        f"has {len(prof.criteria)} criteria"
                    )
    belts = ("west_coast", "east_coast", "border")
    for i, rule in enumerate(data.get("prioritisation", {}).get("phase_rules", [])):
        when = rule.get("when", {})
        if "phase" not in rule:
            errs.append(f"prioritisation.phase_rules[{i}].phase: missing")
        for key, known in (("profile", list(data.get("profiles", {}))), ("belt", list(belts))):
            vals = when.get(key)
            for v in [vals] if isinstance(vals, str) else vals or []:
                if v not in known:
                    errs.append(
                        f"prioritisation.phase_rules[{i}].when.{key}: unknown '{v}'"
                        + _suggest(v, known)
                    )
    from geoplan.layers import catalogue

    known_layers = [*catalogue(), *(data.get("layers") or {})]
    for i, name in enumerate(data.get("constraints", {}).get("mask_layers", [])):
        if name not in known_layers:
            errs.append(
                f"constraints.mask_layers[{i}]: unknown layer '{name}'"
                + _suggest(name, known_layers)
            )
    for cname, c in criteria.items():
        if "layer" in c and c["layer"] not in known_layers:
            errs.append(
                f"criteria.{cname}.layer: unknown layer '{c['layer']}'"
                + _suggest(c["layer"], known_layers)
            )
    sites = data.get("candidates", {}).get("sites_layer")
    if sites is not None and sites not in known_layers:
        errs.append(
            f"candidates.sites_layer: unknown layer '{sites}'" + _suggest(sites, known_layers)
        )
    sizes = data.get("candidates", {}).get("size_classes_km2", {})
    targets = data.get("candidates", {}).get("target_km2", {})
    for cls, (lo, hi) in sizes.items():
        t = targets.get(cls)
        if t is not None and not lo <= t <= hi:
            errs.append(
                f"candidates.target_km2.{cls}: must lie in size_classes_km2.{cls} "
                f"[{lo}, {hi}], got {t}"
            )
    return profiles
