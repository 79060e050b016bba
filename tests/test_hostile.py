"""Hostile inputs: scenarios, layer files and ``--set`` values a user (or an attacker) can write.

Every case goes through the command line and must end with exit code 0 or 1,
never a traceback or an "internal error"; a refusal is one line per problem
naming the culprit (key path, file, layer or field); nothing is written
outside the output folder; and a refused or failed run leaves the earlier
run's files in that folder byte-identical. Cases that run use a 5 km grid,
one zone per belt and ``--only csv`` where they can.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from geoplan.cli import main

from .conftest import REPO

FAST = "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1}\n"
FAST_SET = ["--set", "grid.resolution_m=5000", "--set", "candidates.zones_per_belt=1"]
EVIL = ("evil_escape", "evil_abs", "evil_profile", "evil_set", "evil_crit", "evil_export")
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"
LIN = "{type: linear, low: 0, high: 20000, direction: falling}"


def _profile(name: str, crit: str = "port_distance", extra: str = "") -> str:
    return (
        f"profiles:\n  {name}:\n    criteria:\n"
        f"      - {{criterion: {crit}, weight: 1, transform: {LIN}{extra}}}\n"
    )


def _only(name: str, crit: str = "port_distance", extra: str = "") -> str:
    """A scenario that keeps only one profile ``name`` (the rest removed via only_profiles)."""
    return FAST + _profile(name, crit, extra) + f"only_profiles: [{json.dumps(name)}]\n"


def _layer(name: str) -> dict:
    return json.loads((REPO / "layers" / f"{name}.geojson").read_text("utf-8"))


def _geojson(name: str, edit) -> str:
    data = _layer(name)
    edit(data)
    return json.dumps(data, ensure_ascii=False)


def _set_props(**kv):
    def edit(d):
        for f in d["features"]:
            f["properties"].update(kv)

    return edit


def _drop_prop(key):
    def edit(d):
        for f in d["features"]:
            f["properties"].pop(key, None)

    return edit


def _geom(geometry):
    def edit(d):
        for f in d["features"]:
            f["geometry"] = geometry

    return edit


def _first_geom(geometry):
    def edit(d):
        d["features"][0]["geometry"] = geometry

    return edit


def _no_features(d):
    d["features"] = []


@dataclass
class Case:
    id: str
    scenario: str | bytes | None
    rc: int
    culprit: str = ""  # regex the error output must match (rc 1)
    args: list[str] = field(default_factory=list)
    files: dict[str, str | bytes] = field(default_factory=dict)
    only: str | None = "csv"
    waiting: str = ""  # a reason the case waits on another branch (xfail, not strict)


def _layer_case(cid, name, text, culprit, rc=1, *, waiting="") -> Case:
    return Case(
        cid,
        FAST + f"layers: {{{name}: bad_{name}.geojson}}\n",
        rc,
        culprit,
        files={f"bad_{name}.geojson": text},
        waiting=waiting,
    )


_DEEP = "a: " + "[" * 2000 + "]" * 2000 + "\n"
_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{c}: &{c} [{','.join('*' + p for _ in range(10))}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "name: *i\n"
)

CASES: list[Case] = [
    # ---- names never become paths (these run and succeed; the file names are slugs)
    Case("name-dotdot", FAST + "name: ../../../tmp/evil_escape\n", 0, only="gpkg"),
    Case("name-absolute", FAST + "name: /tmp/evil_abs\n", 0, only="gpkg"),
    Case("name-dots-only", FAST + "name: '..'\n", 0, only="gpkg"),
    Case("name-empty", FAST + "name: ''\n", 1, r"^error: name"),
    Case("name-nul-newline", FAST + 'name: "a\\0b\\nc/../evil_escape"\n', 0, only="gpkg"),
    Case("profile-dotdot", _only("../../../../../tmp/evil_profile"), 0, only="tif"),
    Case("profile-absolute", _only("/tmp/evil_profile"), 0, only="tif"),
    Case(
        "criterion-dotdot",
        FAST
        + "criteria:\n  ../evil_crit: {kind: distance_to, layer: ports}\n"
        + _profile("p1", '"../evil_crit"')
        + "only_profiles: [p1]\n",
        0,
    ),
    Case("set-name-dotdot", None, 0, args=[*FAST_SET, "--set", "name=../../../tmp/evil_set"]),
    # ---- runs with no zones: valid, empty outputs
    Case("zones-per-belt-0", "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 0}\n", 0),
    Case(
        "belts-1m",
        FAST + "belts: {west_coast_km: 0.001, east_coast_km: 0.001, border_km: 0.001}\n",
        0,
    ),
    Case("min-value-unmet", _only("p1", extra=", min_value: 2"), 0),
    # ---- refused with one line naming the cause
    Case(
        "owa-order-weights-zero",
        _only("p1") + "aggregation: {method: owa, order_weights: [0]}\n",
        1,
        r"aggregation\.order_weights",
    ),
    Case(
        "owa-order-weights-count",
        _only("p1") + "aggregation: {method: owa, order_weights: [1, 1]}\n",
        1,
        r"aggregation\.order_weights",
    ),
    Case(
        "sites-layer-lines",
        "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1, sites_layer: mdl}\n",
        1,
        r"candidates\.sites_layer",
    ),
    Case(
        "sites-layer-unknown",
        "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1, sites_layer: nope}\n",
        1,
        r"candidates\.sites_layer",
    ),
    Case(
        "categorical-non-mapping",
        _only("p1", extra="").replace(LIN, "{type: categorical, mapping: 5}"),
        1,
        r"transform\.mapping",
    ),
    Case(
        "categorical-list",
        _only("p1").replace(LIN, "{type: categorical, mapping: [1, 2]}"),
        1,
        r"transform\.mapping",
    ),
    Case(
        "transform-unknown-type", _only("p1").replace(LIN, "{type: cubic}"), 1, r"transform\.type"
    ),
    Case("transform-string", _only("p1").replace(LIN, "linear"), 1, r"criteria\[0\]\.transform"),
    Case(
        "transform-low-eq-high",
        _only("p1").replace(LIN, "{type: linear, low: 5, high: 5}"),
        1,
        r"transform",
    ),
    Case(
        "params-misspelt",
        FAST + "criteria:\n  labour_pool: {params: {radius: 30000}}\n",
        1,
        r"criteria\.labour_pool\.params\.radius\b.*radius_m",
    ),
    Case(
        "params-non-numeric",
        FAST + "criteria:\n  labour_pool: {params: {radius_m: far}}\n",
        1,
        r"criteria\.labour_pool\.params\.radius_m",
    ),
    Case(
        "params-negative",
        FAST + "criteria:\n  labour_pool: {params: {radius_m: -5}}\n",
        1,
        r"criteria\.labour_pool\.params\.radius_m",
    ),
    Case(
        "params-nan",
        FAST + "criteria:\n  labour_pool: {params: {radius_m: .nan}}\n",
        1,
        r"criteria\.labour_pool\.params\.radius_m",
    ),
    Case(
        "params-list",
        FAST + "criteria:\n  labour_pool: {params: [1, 2]}\n",
        1,
        r"criteria\.labour_pool\.params",
    ),
    Case(
        "params-field-missing",
        FAST + "criteria:\n  port_capacity: {params: {field: nope}}\n",
        1,
        r"port_capacity.*nope|nope.*port_capacity",
    ),
    Case(
        "where-non-mapping",
        FAST + "criteria:\n  port_distance: {where: abc}\n",
        1,
        r"criteria\.port_distance\.where",
    ),
    Case(
        "where-unknown-field",
        FAST + "criteria:\n  port_distance: {where: {nope: 1}}\n",
        1,
        r"port_distance.*nope|nope.*port_distance",
    ),
    Case(
        "criterion-kind-unknown",
        FAST + "criteria:\n  labour_pool: {kind: nope}\n",
        1,
        r"criteria\.labour_pool\.kind",
    ),
    Case(
        "criterion-layer-unknown",
        FAST + "criteria:\n  labour_pool: {layer: nope}\n",
        1,
        r"criteria\.labour_pool\.layer",
    ),
    Case("profile-criterion-unknown", _only("p1", crit="port_distanse"), 1, r"port_distance"),
    Case("weight-string", _only("p1").replace("weight: 1", "weight: heavy"), 1, r"weight"),
    Case("weight-negative", _only("p1").replace("weight: 1", "weight: -1"), 1, r"weight"),
    Case("weights-all-zero", _only("p1").replace("weight: 1", "weight: 0"), 1, r"p1.*weight"),
    Case("only-profiles-unknown", FAST + "only_profiles: [nope]\n", 1, r"only_profiles|nope"),
    # ---- numbers
    Case("resolution-huge", FAST.replace("5000", "1e300"), 1, r"grid\.resolution_m"),
    Case(
        "resolution-1e9-is-number",
        FAST.replace("5000", "1e9"),
        1,
        r"grid\.resolution_m.*(at most|between|<=|5000)",
    ),
    Case("resolution-inf", FAST.replace("5000", ".inf"), 1, r"grid\.resolution_m"),
    Case("resolution-nan", FAST.replace("5000", ".nan"), 1, r"grid\.resolution_m"),
    Case("resolution-zero", FAST.replace("5000", "0"), 1, r"grid\.resolution_m"),
    Case(
        "zones-fraction",
        FAST.replace("zones_per_belt: 1", "zones_per_belt: 2.5"),
        1,
        r"candidates\.zones_per_belt",
    ),
    Case(
        "zones-negative",
        FAST.replace("zones_per_belt: 1", "zones_per_belt: -1"),
        1,
        r"candidates\.zones_per_belt",
    ),
    Case(
        "zones-bool",
        FAST.replace("zones_per_belt: 1", "zones_per_belt: true"),
        1,
        r"candidates\.zones_per_belt",
    ),
    Case(
        "zones-bigint",
        FAST.replace("zones_per_belt: 1", "zones_per_belt: " + "9" * 40),
        1,
        r"candidates\.zones_per_belt",
    ),
    Case("bbox-strings", FAST.replace("5000}", "5000, bbox: [a, b, c, d]}"), 1, r"grid\.bbox"),
    Case(
        "bbox-degenerate",
        FAST.replace("5000}", "5000, bbox: [125, 38, 125, 38]}"),
        1,
        r"grid\.bbox",
    ),
    Case(
        "bbox-outside-korea",
        FAST.replace("5000}", "5000, bbox: [0, 0, 1, 1]}"),
        1,
        r"grid\.bbox|bbox",
    ),
    Case("seed-negative", FAST + "sensitivity: {seed: -1}\n", 1, r"sensitivity\.seed"),
    Case("crs-unknown", FAST + "crs: EPSG:999999\n", 1, r"^error: crs"),
    Case("crs-geographic", FAST + "crs: EPSG:4326\n", 1, r"^error: crs"),
    # ---- wrong types at every level, unknown keys
    Case("grid-scalar", "grid: 5\n", 1, r"^error: grid"),
    Case("profiles-list", FAST + "profiles: [1, 2]\n", 1, r"^error: profiles"),
    Case(
        "profile-criteria-string",
        FAST + "profiles:\n  labour_intensive: {criteria: abc}\n",
        1,
        r"profiles\.labour_intensive\.criteria",
    ),
    Case(
        "profile-criterion-scalar",
        FAST + "profiles:\n  p1: {criteria: [5]}\n",
        1,
        r"profiles\.p1\.criteria\[0\]",
    ),
    Case("criteria-list", FAST + "criteria: [a, b]\n", 1, r"^error: criteria"),
    Case("criterion-scalar", FAST + "criteria:\n  labour_pool: 5\n", 1, r"criteria\.labour_pool"),
    Case("layers-string", FAST + "layers: abc\n", 1, r"^error: layers"),
    Case("outputs-map-int", FAST + "outputs: {map: 3}\n", 1, r"outputs\.map"),
    Case(
        "phase-rules-mapping",
        FAST + "prioritisation: {phase_rules: {a: 1}}\n",
        1,
        r"prioritisation\.phase_rules",
    ),
    Case(
        "phase-out-of-range",
        FAST + "prioritisation:\n  phase_rules:\n    - {phase: 7, when: {}, reason: new_base}\n",
        1,
        r"phase_rules\[0\]\.phase",
    ),
    Case("label-int", FAST + "criteria:\n  labour_pool: {label: 5}\n", 1, r"labour_pool\.label"),
    Case("unknown-top-key", FAST + "gridd: {}\n", 1, r"gridd.*did you mean 'grid'"),
    Case(
        "unknown-nested-key",
        FAST.replace("resolution_m", "resolutionm"),
        1,
        r"grid\.resolutionm.*resolution_m",
    ),
    Case("language-unknown", FAST + "outputs: {language: fr}\n", 1, r"outputs\.language"),
    # ---- files that are not scenarios
    Case("empty-file", "", 0, args=FAST_SET),
    Case("comments-only", "# nothing here\n\n", 0, args=FAST_SET),
    Case("top-level-list", "- a\n- b\n", 1, r"s\.yaml"),
    Case("top-level-scalar", "42\n", 1, r"s\.yaml"),
    Case("binary", bytes(range(256)) * 8, 1, r"s\.yaml"),
    Case("png-header", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 1, r"s\.yaml"),
    Case("not-utf8", "name: caf\u00e9\n".encode("latin-1"), 1, r"s\.yaml.*UTF-8"),
    Case("utf16", "name: x\n".encode("utf-16"), 1, r"s\.yaml"),
    Case("invalid-yaml", "grid: {resolution_m: 5000\n", 1, r"s\.yaml"),
    Case("tab-indent", "grid:\n\tresolution_m: 5000\n", 1, r"s\.yaml"),
    Case("too-large", FAST + ("# " + "x" * 98 + "\n") * 12_000, 1, r"s\.yaml.*(limit|large)"),
    # ---- YAML hazards (the safe reader of the `inputs` branch)
    Case("duplicate-key", FAST + "grid: {resolution_m: 1000}\n", 1, r"s\.yaml.*duplicate.*grid"),
    Case("alias-bomb", _BOMB, 1, r"s\.yaml.*alias"),
    Case("deep-nesting", _DEEP, 1, r"s\.yaml.*(deep|nest|depth)"),
    Case("python-tag", "name: !!python/object/apply:os.system ['echo pwned']\n", 1, r"s\.yaml"),
    Case("custom-tag", "name: !evil x\n", 1, r"s\.yaml"),
    # ---- --set hazards
    Case("set-profiles-scalar", None, 1, r"profiles", args=[*FAST_SET, "--set", "profiles=1"]),
    Case(
        "set-resolution-abc",
        None,
        1,
        r"grid\.resolution_m",
        args=[*FAST_SET, "--set", "grid.resolution_m=abc"],
    ),
    Case("set-no-equals", None, 1, r"--set|noequals", args=[*FAST_SET, "--set", "noequals"]),
    Case("set-empty-key", None, 1, r"--set", args=[*FAST_SET, "--set", "=5"]),
    Case("set-double-dot", None, 1, r"--set|a\.\.b", args=[*FAST_SET, "--set", "a..b=1"]),
    Case(
        "set-bad-yaml",
        None,
        1,
        r"grid\.resolution_m",
        args=[*FAST_SET, "--set", "grid.resolution_m=[1,2"],
    ),
    Case(
        "set-unknown-criterion",
        None,
        1,
        r"nope",
        args=[*FAST_SET, "--set", "profiles.labour_intensive.criteria.nope.weight=0.5"],
    ),
    Case(
        "set-alias-bomb", None, 1, r"--set|name|alias", args=[*FAST_SET, "--set", "name=" + _BOMB]
    ),
    Case("only-unknown", FAST, 1, r"--only", only="csv,pdf"),
    # ---- missing and odd files named by the scenario
    Case("scenario-missing", None, 1, r"nope\.yaml", args=["MISSING"]),
    Case("scenario-is-folder", None, 1, r"sub", args=["FOLDER"]),
    Case(
        "layer-missing",
        FAST + "layers: {ports: /nonexistent/x.geojson}\n",
        1,
        r"layers\.ports.*nonexistent",
    ),
    Case("layer-is-folder", FAST + "layers: {ports: sub}\n", 1, r"ports|sub"),
    Case(
        "layer-gpkg-no-such-layer",
        FAST + "layers: {ports: 'bad.gpkg::nolayer'}\n",
        1,
        r"bad\.gpkg",
        files={"bad.gpkg": b"SQLite format 3\x00" + b"\x00" * 200},
    ),
    Case(
        "slope-dem-garbage",
        FAST + "constraints: {max_slope_deg: 10, slope_dem: dem.tif}\n",
        1,
        r"dem\.tif",
        files={"dem.tif": b"II*\x00garbage" * 10},
    ),
    # ---- hostile layer files (shape-level hardening is the `inputs` branch's)
    _layer_case("layer-binary", "ports", bytes(range(256)) * 4, r"bad_ports\.geojson"),
    _layer_case("layer-empty-file", "ports", b"", r"bad_ports\.geojson"),
    _layer_case("layer-json-not-geojson", "ports", '{"a": 1}', r"bad_ports\.geojson"),
    _layer_case(
        "layer-no-features", "ports", _geojson("ports", _no_features), r"bad_ports\.geojson|ports"
    ),
    _layer_case(
        "layer-missing-field",
        "cities",
        _geojson("cities", _drop_prop("population")),
        r"bad_cities\.geojson.*population|population.*bad_cities",
    ),
    _layer_case(
        "layer-wrong-geometry",
        "ports",
        _geojson("ports", _geom({"type": "LineString", "coordinates": [[125, 38], [126, 39]]})),
        r"bad_ports\.geojson|ports",
    ),
    _layer_case(
        "layer-text-numbers",
        "cities",
        _geojson("cities", _set_props(population="many")),
        r"population",
    ),
    _layer_case(
        "layer-lon-out-of-range",
        "ports",
        _geojson("ports", _first_geom({"type": "Point", "coordinates": [500, 38]})),
        r"bad_ports\.geojson|ports",
    ),
    _layer_case(
        "layer-null-geometry",
        "ports",
        _geojson("ports", _first_geom(None)),
        r"",
        rc=0,
    ),
    _layer_case(
        "layer-all-null-geometry", "ports", _geojson("ports", _geom(None)), r"bad_ports\.geojson"
    ),
    _layer_case(
        "layer-xss-names",
        "cities",
        _geojson("cities", _set_props(name=XSS_IMG, name_ko=XSS_SCRIPT)),
        r"",
        rc=0,
    ),
]

assert len(CASES) >= 60
assert len({c.id for c in CASES}) == len(CASES)


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _evil_in_tmp() -> list[str]:
    return sorted(p.name for p in Path("/tmp").iterdir() if p.name.startswith(EVIL))


def invoke(args: list[str]) -> tuple[int, str]:
    """Run the CLI in-process; return the exit code and everything it printed."""
    with warnings.catch_warnings():
        res = CliRunner().invoke(main, args, catch_exceptions=True)
    exc = res.exception
    assert exc is None or isinstance(exc, SystemExit), f"uncaught {exc!r}"
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """An earlier good run (ranking.csv and run.json) that refused runs must not touch."""
    d = tmp_path_factory.mktemp("good")
    (d / "s.yaml").write_text(FAST, encoding="utf-8")
    rc, out = invoke(["run", "-q", str(d / "s.yaml"), "--out", str(d / "out"), "--only", "csv"])
    assert rc == 0, out
    return d / "out"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(reason=c.waiting, strict=False)] if c.waiting else [],
        )
        for c in CASES
    ],
)
def test_hostile(case: Case, good_run: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for name, content in case.files.items():
        p = tmp_path / name
        p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    args = ["run", "-q"]
    extra = list(case.args)
    if "MISSING" in extra:
        extra.remove("MISSING")
        args.append(str(tmp_path / "nope.yaml"))
    elif "FOLDER" in extra:
        extra.remove("FOLDER")
        args.append(str(tmp_path / "sub"))
    elif case.scenario is not None:
        s = tmp_path / "s.yaml"
        s.write_bytes(case.scenario if isinstance(case.scenario, bytes) else case.scenario.encode())
        args.append(str(s))
    out_dir = tmp_path / "out"
    shutil.copytree(good_run, out_dir)
    before_out = _tree(out_dir)
    before = _tree(tmp_path)
    evil_before = _evil_in_tmp()
    args += [*extra, "--out", str(out_dir)]
    if case.only:
        args += ["--only", case.only]

    rc, text = invoke(args)

    assert "Traceback" not in text and "internal error" not in text, text
    assert rc == case.rc, text
    # nothing written outside the output folder (cwd and the scenario's folder included)
    after = _tree(tmp_path)
    outside = {k: v for k, v in after.items() if not k.startswith("out/")}
    assert outside == {k: v for k, v in before.items() if not k.startswith("out/")}
    assert _evil_in_tmp() == evil_before
    names = [p.name for p in out_dir.iterdir()]
    assert not [n for n in names if n.startswith(".geoplan-staging") or n.endswith(".tmp")], names
    if rc == 1:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert lines and all(ln.startswith("error: ") for ln in lines), text
        assert all(len(ln) < 400 for ln in lines), text
        assert re.search(case.culprit, text, re.M), text
        assert _tree(out_dir) == before_out  # the earlier run is untouched
    else:
        files = {p.name for p in out_dir.iterdir() if p.is_file()}
        rec = json.loads((out_dir / "run.json").read_text("utf-8"))
        assert set(rec["outputs"]) <= {"ranking", "geopackage", "run"} | {
            k for k in rec["outputs"] if k.startswith("geotiff:")
        }
        for rel in rec["outputs"].values():
            assert (out_dir / rel).resolve().parent == out_dir.resolve(), rel
            assert Path(rel).name in files
        if case.only == "csv":
            table = pd.read_csv(out_dir / "ranking.csv")
            assert {"zone_id", "belt", "profile", "score", "phase"} <= set(table.columns)
            assert len(table) == rec["counts"]["zones"] + rec["counts"]["sites"]


# --------------------------------------------------------------------------- XSS in map and report

XSS_PROFILE = "<img src=x onerror=alert(3)>"
XSS_CRIT = "<script>alert(4)</script>"


def test_xss_strings_never_reach_the_html_unescaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cities = _geojson("cities", _set_props(name=XSS_IMG, name_ko=XSS_SCRIPT))
    (tmp_path / "cities.geojson").write_text(cities, encoding="utf-8")
    sc = {
        "name": XSS_IMG,
        "description": XSS_SCRIPT,
        "grid": {"resolution_m": 5000},
        "candidates": {"zones_per_belt": 1},
        "layers": {"cities": "cities.geojson"},
        "criteria": {
            XSS_CRIT: {"kind": "distance_to", "layer": "ports", "unit": XSS_IMG,
                       "label": {"en": XSS_SCRIPT, "ko": XSS_IMG}},
        },
        "profiles": {
            XSS_PROFILE: {
                "description": XSS_SCRIPT,
                "label": {"en": XSS_IMG, "ko": XSS_SCRIPT},
                "criteria": [
                    {"criterion": XSS_CRIT, "weight": 0.5,
                     "transform": {"type": "linear", "low": 0, "high": 20000,
                                   "direction": "falling"}},
                    {"criterion": "labour_pool", "weight": 0.5,
                     "transform": {"type": "linear", "low": 0, "high": 100000}},
                ],
            }
        },
        "only_profiles": [XSS_PROFILE],
    }  # fmt: skip
    (tmp_path / "s.yaml").write_text(json.dumps(sc), encoding="utf-8")
    before = _tree(tmp_path)
    rc, text = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "map,report,csv"])
    assert rc == 0, text
    assert "Traceback" not in text
    assert {k: v for k, v in _tree(tmp_path).items() if not k.startswith("out/")} == before
    htmls = sorted((tmp_path / "out").glob("*.html"))
    assert len(htmls) == 2  # the map (slug of the name) and report.html
    for h in htmls:
        assert h.resolve().parent == (tmp_path / "out").resolve()
        page = h.read_text("utf-8")
        for payload in ("<img src=x", "<script>alert"):
            assert payload not in page, f"{h.name}: unescaped {payload!r}"


JINJA = "{{ 7*7 }} {{ cycler.__init__.__globals__.os.getpid() }} {% for x in y %}"


def test_template_syntax_in_names_stays_text(tmp_path, monkeypatch):
    """Jinja syntax in a description, a profile's label or a place's name is shown as text:
    never evaluated (``{{ 7*7 }}`` would read 49, a ``__globals__`` chain would run code)
    and never a failed render (an unbalanced ``{%``)."""
    monkeypatch.chdir(tmp_path)
    cities = _geojson("cities", _set_props(name=JINJA, name_ko=JINJA))
    (tmp_path / "cities.geojson").write_text(cities, encoding="utf-8")
    sc = {
        "name": "jinja",
        "description": JINJA,
        "grid": {"resolution_m": 5000},
        "candidates": {"zones_per_belt": 1},
        "layers": {"cities": "cities.geojson"},
        "profiles": {"labour_intensive": {"label": {"en": JINJA, "ko": JINJA}}},
        "only_profiles": ["labour_intensive"],
    }
    (tmp_path / "s.yaml").write_text(json.dumps(sc), encoding="utf-8")
    rc, text = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "map,report"])
    assert rc == 0, text
    page = (tmp_path / "out" / "jinja.html").read_text("utf-8")
    data = json.loads(re.search(r'id="geoplan-data">(.*?)</script>', page, re.S).group(1))
    assert data["description"] == JINJA
    assert [p["label"] for p in data["profiles"]] == [JINJA]
    for h in (tmp_path / "out").glob("*.html"):
        body = h.read_text("utf-8")
        assert "{{ 7*7 }}" in body, h.name  # the map's JSON and the report's text
        assert " 49 " not in body, h.name


# ------------------------------------------------------------------- export of an edited run


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    """A good run whose run.json ``geoplan export`` reads."""
    d = tmp_path_factory.mktemp("rec")
    (d / "s.yaml").write_text(FAST, encoding="utf-8")
    rc, out = invoke(["run", "-q", str(d / "s.yaml"), "--out", str(d / "out"), "--only", "csv"])
    assert rc == 0, out
    return d / "out"


def _edit_name(rec):
    rec["scenario"]["name"] = "../../../tmp/evil_export"
    rec["scenario_name"] = "/tmp/evil_export"


def _edit_layer_path(rec):
    rec["scenario"]["layers"] = {"ports": "/etc/passwd"}


def _edit_hash(rec):
    rec["input_layers"]["ports"]["sha256"] = "0" * 64


def _edit_scenario_type(rec):
    rec["scenario"] = ["not", "a", "mapping"]


def _edit_scenario_bad(rec):
    rec["scenario"]["grid"] = {"resolution_m": "abc"}


EXPORTS = [
    ("name-escape", _edit_name, "csv", 0, ""),
    ("name-escape-map", _edit_name, "map", 0, ""),
    ("layer-path-edited", _edit_layer_path, "csv", 1, r"run\.json.*ports"),
    ("input-hash-edited", _edit_hash, "csv", 1, r"run\.json.*changed.*ports"),
    ("scenario-not-mapping", _edit_scenario_type, "csv", 1, r"run\.json"),
    ("scenario-invalid", _edit_scenario_bad, "csv", 1, r"grid\.resolution_m"),
    ("record-garbage", b"\x00\xff{", "csv", 1, r"run\.json"),
    ("record-empty", b"", "csv", 1, r"run\.json"),
]


@pytest.mark.parametrize(("edit", "kind", "rc", "culprit"), [e[1:] for e in EXPORTS],
                         ids=[e[0] for e in EXPORTS])  # fmt: skip
def test_export_of_an_edited_record(recorded_run, tmp_path, monkeypatch, edit, kind, rc, culprit):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    shutil.copytree(recorded_run, run_dir)
    if isinstance(edit, bytes):
        (run_dir / "run.json").write_bytes(edit)
    else:
        rec = json.loads((run_dir / "run.json").read_text("utf-8"))
        edit(rec)
        (run_dir / "run.json").write_text(json.dumps(rec), encoding="utf-8")
    before, evil_before = _tree(tmp_path), _evil_in_tmp()
    code, text = invoke(["export", kind, "-q", "--run", str(run_dir)])
    assert "Traceback" not in text and "internal error" not in text, text
    assert code == rc, text
    assert _evil_in_tmp() == evil_before
    after = _tree(tmp_path)
    changed = {k for k in set(after) | set(before) if after.get(k) != before.get(k)}
    assert "run/run.json" not in changed  # export never rewrites the record
    if rc == 1:
        assert changed == set(), changed
        assert re.search(culprit, text), text
    else:
        assert all(k.startswith("run/") and k.count("/") == 1 for k in changed), changed
        if kind == "map":
            assert "run/tmp_evil_export.html" in changed  # the name, slugged, inside --run


# --------------------------------------------------------------------------- warnings

WARN_SC = (
    FAST
    + "profiles:\n  labour_intensive:\n    criteria:\n"
    + "      - {criterion: labour_pool, weight: 0.9}\n"
    + "prioritisation:\n  phase_rules:\n    - {phase: 1, when: {profile: labor_intensive}, "
    "reason: foundation}\n    - {phase: 3, when: {}, reason: new_base}\n"
)
WARNINGS = [
    "warning: profiles.labour_intensive.criteria weights: sum to 1.55, not 1; normalised",
    "warning: prioritisation.phase_rules[0].when.profile: no profile 'labor_intensive' in this "
    "scenario; the rule never matches it; did you mean 'labour_intensive'?",
]


@pytest.mark.parametrize("quiet", [False, True], ids=["default", "quiet"])
def test_warnings_one_clean_line_each_once(tmp_path, quiet):
    import os
    import subprocess
    import sys

    (tmp_path / "s.yaml").write_text(WARN_SC + "layers: {ports: p.geojson}\n", encoding="utf-8")
    (tmp_path / "p.geojson").write_text(_geojson("ports", _first_geom(None)), encoding="utf-8")
    cmd = [sys.executable, "-m", "geoplan", "scenario", "check", "s.yaml"] + (
        ["-q"] if quiet else []
    )
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    if quiet:
        assert lines == []
    else:
        n = len(_layer("ports")["features"])
        dropped = f"warning: {tmp_path / 'p.geojson'} [layer ports]: dropped 1 of {n} features"
        expected = [*WARNINGS, dropped + " with no geometry"]
        assert sorted(ln for ln in lines if ln.startswith("warning:")) == sorted(expected)
        assert not [ln for ln in lines if ".py" in ln or "warn(" in ln], lines


# --------------------------------------------------------------------------- runs with no zones

NO_ZONES = {
    "zones-per-belt-0": "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 0}\n",
    "belts-1m": FAST + "belts: {west_coast_km: 0.001, east_coast_km: 0.001, border_km: 0.001}\n",
    "min-value-unmet": _only("p1", extra=", min_value: 1.0e9"),
}


@pytest.mark.parametrize("text", list(NO_ZONES.values()), ids=list(NO_ZONES))
def test_no_zones_writes_valid_empty_outputs(tmp_path, monkeypatch, ogrinfo, text):
    import subprocess

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    rc, out = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "csv,gpkg,map"])
    assert rc == 0, out
    rec = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))
    assert rec["counts"]["zones"] == 0
    info = subprocess.run(
        [ogrinfo, "-so", "-ro", str(tmp_path / "out" / "s.gpkg"), "zones"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Feature Count: 0" in info
    table = pd.read_csv(tmp_path / "out" / "ranking.csv")
    assert {"zone_id", "kind", "score", "phase"} <= set(table.columns)
    assert (table["kind"] != "zone").all() and len(table) == rec["counts"]["sites"]
    page = (tmp_path / "out" / "s.html").read_text("utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and "</html>" in page
