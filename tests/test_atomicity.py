"""Run-level atomicity: a failed, killed or concurrent run never leaves a mix of two runs.

Oracles: SHA-256 of every file of the earlier run (byte-identical after a
failure), the folder listing (no staging folders or temporary files), and
rasterio's own reading of the GeoTIFFs against ``run.json`` (one run's set).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import rasterio

from geoplan._errors import ExportError
from geoplan.outputs import files, publish

from .conftest import REPO

FAST = "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1}\n"


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != publish.LOCK
    }


def _leftovers(folder: Path) -> list[str]:
    return [
        p.name
        for p in folder.iterdir()
        if p.name.startswith((publish.STAGING_PREFIX, publish.JOURNAL))
        or p.name.endswith((".tmp", ".tmp.tif"))
        or publish._STALE.search(p.name)
    ]


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "geoplan", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    import geoplan

    d = tmp_path_factory.mktemp("atom")
    (d / "s.yaml").write_text(FAST, encoding="utf-8")
    return geoplan.run(d / "s.yaml")


@pytest.fixture(scope="module")
def previous(res, tmp_path_factory) -> Path:
    """An earlier run's complete folder (every output)."""
    out = tmp_path_factory.mktemp("prev") / "out"
    res.write(out)
    return out


@pytest.fixture
def folder(previous, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    return out


def _boom(*_a, **_k):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize(
    "target",
    [
        "geoplan.outputs.report.render_report",
        "geoplan.webmap.render",
        "geoplan.outputs.files.write_json",
        "geoplan.outputs.files.write_geopackage",
    ],
)
def test_late_failure_leaves_previous_run(res, folder, monkeypatch, target):
    before = _tree(folder)
    monkeypatch.setattr(target, _boom)
    with pytest.raises(RuntimeError, match="injected"):
        res.write(folder)
    assert _tree(folder) == before
    assert _leftovers(folder) == []


def test_failure_after_some_geotiffs(res, folder, monkeypatch):
    before = _tree(folder)
    calls = []
    real = files.write_cog

    def second_fails(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(files, "write_cog", second_fails)
    with pytest.raises(OSError):
        res.write(folder)
    # COGs are written one or two at a time: after the failure no further one is started
    assert len(calls) in (2, 3)
    assert _tree(folder) == before
    assert _leftovers(folder) == []


def test_target_that_is_a_folder_is_refused_before_publishing(res, folder):
    """A folder squatting on an output's name must not leave half the run published."""
    (folder / "report.html").unlink()
    (folder / "report.html").mkdir()
    before = _tree(folder)
    with pytest.raises(ExportError, match=r"report\.html"):
        res.write(folder)
    assert _tree(folder) == before
    assert _leftovers(folder) == []


def test_out_is_a_file(res, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(ExportError, match="afile"):
        res.write(f)
    assert f.read_text() == "x"


def test_locked_folder_refused_with_one_line(res, folder):
    before = _tree(folder)
    fd = os.open(folder / publish.LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"424242", 0)
        with pytest.raises(ExportError) as info:
            res.write(folder, only="csv")
    finally:
        os.close(fd)
    assert info.value.lines() == [
        f"{folder}: another geoplan run (pid 424242) is writing here; wait for it to finish "
        "or choose another --out"
    ]
    assert _tree(folder) == before
    res.write(folder, only="csv")  # the lock is gone with its holder
    assert _tree(folder)["ranking.csv"] == before["ranking.csv"]  # same result, same bytes


def test_recover_rolls_a_killed_publish_forward(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "ranking.csv").write_text("old")
    (out / "run.json").write_text("old")
    st = out / f"{publish.STAGING_PREFIX}1-abcd"
    st.mkdir()
    (st / "000-ranking.csv").write_text("new")
    (st / "001-run.json").write_text("new")
    moves = [[str(st / "000-ranking.csv"), str(out / "ranking.csv")],
             [str(st / "001-run.json"), str(out / "run.json")]]  # fmt: skip
    (out / publish.JOURNAL).write_text(json.dumps(moves))
    os.replace(st / "000-ranking.csv", out / "ranking.csv")  # killed after the first rename
    publish.recover(out)
    assert (out / "ranking.csv").read_text() == "new"
    assert (out / "run.json").read_text() == "new"
    assert sorted(p.name for p in out.iterdir()) == ["ranking.csv", "run.json"]


def test_recover_ignores_a_hostile_journal(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("keep")
    st = out / f"{publish.STAGING_PREFIX}1-abcd"
    st.mkdir()
    (st / "000-x.csv").write_text("payload")
    evil = tmp_path / "evil_journal.csv"
    moves = [
        [str(st / "000-x.csv"), str(evil)],  # target outside the folder
        [str(secret), str(out / "stolen.txt")],  # source outside a staging folder
        [str(st / "000-x.csv"), str(out / ".." / "evil_up.html")],  # climbs out
    ]
    (out / publish.JOURNAL).write_text(json.dumps(moves))
    publish.recover(out)
    assert not evil.exists() and not (tmp_path / "evil_up.html").exists()
    assert secret.read_text() == "keep" and not (out / "stolen.txt").exists()
    assert list(out.iterdir()) == []


def test_recover_survives_a_garbage_journal(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / publish.JOURNAL).write_bytes(b"\x00\xff garbage")
    (out / "ranking.csv").write_text("keep")
    publish.recover(out)
    assert sorted(p.name for p in out.iterdir()) == ["ranking.csv"]


def _wait_for_staged_file(folder: Path, proc: subprocess.Popen) -> bool:
    for _ in range(6000):
        if proc.poll() is not None:
            return False
        for d in folder.glob(f"{publish.STAGING_PREFIX}*"):
            if any(d.iterdir()):
                return True
        time.sleep(0.01)
    return False


def test_sigkill_mid_write_then_next_run_succeeds(folder, tmp_path):
    before = _tree(folder)
    (tmp_path / "s.yaml").write_text(FAST, encoding="utf-8")
    proc = _cli("run", "-q", "s.yaml", "--out", str(folder), cwd=tmp_path)
    try:
        started = _wait_for_staged_file(folder, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert started, "the run never started writing"
    assert proc.returncode == -signal.SIGKILL
    # killed while staging: the earlier run is untouched (its staging folder is litter)
    assert {k: v for k, v in _tree(folder).items() if "/" not in k} == {
        k: v for k, v in before.items() if "/" not in k
    }
    proc = _cli("run", "-q", "s.yaml", "--out", str(folder), "--only", "csv", cwd=tmp_path)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert err == ""
    assert _leftovers(folder) == []
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == []


def _consistent(folder: Path) -> float:
    rec = json.loads((folder / "run.json").read_text("utf-8"))
    res_m = float(rec["grid"]["res"])
    tifs = sorted(folder.glob("suitability_*.tif"))
    assert tifs
    for t in tifs:
        with rasterio.open(t) as src:
            assert src.res == (res_m, res_m), t.name
    table = pd.read_csv(folder / "ranking.csv")
    assert len(table) == rec["counts"]["zones"] + rec["counts"]["sites"]
    for rel in rec["outputs"].values():
        assert (folder / rel).is_file(), rel
    # `geoplan run` wrote its suitability COGs while the run went on
    assert "write GeoTIFF (during the run)" in rec["timings_s"]
    return res_m


def test_two_concurrent_runs_leave_one_consistent_set(tmp_path):
    out = tmp_path / "out"
    for r in (5000, 4000):
        (tmp_path / f"s{r}.yaml").write_text(FAST.replace("5000", str(r)), encoding="utf-8")
    procs = [
        _cli("run", "-q", f"s{r}.yaml", "--out", str(out), "--only", "tif,csv", cwd=tmp_path)
        for r in (5000, 4000)
    ]
    results = [(p, *p.communicate(timeout=900)) for p in procs]
    codes = [p.returncode for p, _, _ in results]
    assert set(codes) <= {0, 1} and 0 in codes, results
    for p, _, err in results:
        if p.returncode == 1:
            lines = err.strip().splitlines()
            assert len(lines) == 1, err
            assert str(out) in lines[0] and "another geoplan run (pid " in lines[0]
            other = next(q for q in procs if q is not p)
            assert f"pid {other.pid})" in lines[0]
    assert _consistent(out) in (5000.0, 4000.0)
    assert _leftovers(out) == []
