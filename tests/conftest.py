"""Shared fixtures: paths, required-resource gates, the loaded default layers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when a resource is absent; on CI (which installs everything) fail instead."""
    if condition:
        return
    if ON_CI:
        pytest.fail(f"required on CI but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared() -> Path:
    require((SHARED / "nkfacts" / "ports.csv").is_file(), f"{SHARED} (shared data) is absent")
    return SHARED


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(path).exists(), "Debian chromium is not installed")
    return path


@pytest.fixture(scope="session")
def ogrinfo() -> str:
    path = shutil.which("ogrinfo")
    require(path is not None, "gdal-bin (ogrinfo) is not installed")
    return str(path)


@pytest.fixture(scope="session")
def default_layers():
    from geoplan import layers

    return layers.load_all()


@pytest.fixture(scope="session")
def regions_(default_layers):
    from geoplan import regions

    return regions.belts(default_layers), regions.exclusions(default_layers)


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory):
    """The default scenario on a 1 km grid, two zones per belt: every output written."""
    import geoplan

    d = tmp_path_factory.mktemp("fastrun")
    sc = d / "fast.yaml"
    sc.write_text(
        "grid: {resolution_m: 1000}\ncandidates: {zones_per_belt: 2, min_spacing_km: 20}\n"
        "sensitivity: {draws: 0}\n"  # robustness is tested on its own (test_core, test_sensitivity)
    )
    res = geoplan.run(sc)
    res.write(d / "out")
    return res
