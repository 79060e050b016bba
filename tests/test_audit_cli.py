"""Audit of ``--out``: a folder that cannot be one is refused before any work is done.

Before, ``geoplan run --out a_file/sub`` (and sensitivity, export, osm import)
ran the whole pipeline and only then failed, at the publish step.
"""

from __future__ import annotations

import warnings

import pytest
from click.testing import CliRunner

from geoplan.cli import main

from .osm_fixtures import write_xml

FAST = "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1}\n"


def invoke(args: list[str]) -> tuple[int, str]:
    with warnings.catch_warnings():
        res = CliRunner().invoke(main, args, catch_exceptions=True)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


@pytest.fixture
def no_work(monkeypatch):
    """Any attempt to load layers or import OSM fails the test (the refusal must come first)."""
    import geoplan.osm
    import geoplan.pipeline

    def boom(*_a, **_k):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(geoplan.pipeline.Session, "run", boom)
    monkeypatch.setattr(geoplan.osm, "import_extract", boom)


def _cases(tmp_path):
    (tmp_path / "s.yaml").write_text(FAST, encoding="utf-8")
    osm = write_xml(tmp_path / "x.osm", 5)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return {
        "run": ["run", "-q", str(tmp_path / "s.yaml"), "--only", "csv"],
        "sensitivity": ["sensitivity", "-q", str(tmp_path / "s.yaml"), "-n", "2"],
        "osm": ["osm", "import", str(osm)],
        "export": ["export", "csv", "-q", "--run", str(run_dir)],
    }


@pytest.mark.parametrize("command", ["run", "sensitivity", "osm", "export"])
@pytest.mark.parametrize("where", ["under-a-file", "broken-link"])
def test_unusable_out_is_refused_before_any_work(tmp_path, monkeypatch, no_work, command, where):
    monkeypatch.chdir(tmp_path)
    args = _cases(tmp_path)[command]
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    out, culprit = {
        "under-a-file": ("afile/deeper/out", f"{tmp_path / 'afile'} is a file"),
        "broken-link": ("link", f"{tmp_path / 'link'} is a broken link"),
    }[where]
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, text = invoke([*args, "--out", out])
    assert rc == 1, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines == [f"error: {out}: cannot be an output folder: {culprit}"], text
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "afile").read_text("utf-8") == "x"


def test_new_nested_out_is_still_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(FAST, encoding="utf-8")
    rc, text = invoke(["run", "-q", "s.yaml", "--only", "csv", "--out", "a/b/c"])
    assert rc == 0, text
    assert (tmp_path / "a" / "b" / "c" / "ranking.csv").stat().st_size > 0


def _tree(root) -> dict[str, str]:
    import hashlib

    files = [p for p in sorted(root.iterdir()) if p.is_file() and not p.name.startswith(".")]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_osm_import_that_fails_late_leaves_the_previous_pair(tmp_path, monkeypatch):
    """osm.gpkg and roads.graphml are published together: before, a failure (or kill) while
    the graph was saved left a new GeoPackage beside the previous import's graph."""
    import osmnx

    small = write_xml(tmp_path / "small.osm", 5)
    big = write_xml(tmp_path / "big.osm", 12)
    out = tmp_path / "o"
    rc, text = invoke(["osm", "import", str(small), "--out", str(out)])
    assert rc == 0, text
    before = _tree(out)
    assert set(before) == {"osm.gpkg", "roads.graphml"}

    def fail(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(osmnx.io, "save_graphml", fail)
    rc, text = invoke(["osm", "import", str(big), "--out", str(out)])
    assert rc == 1, text
    assert "No space left on device" in text and "Traceback" not in text
    assert _tree(out) == before  # the previous pair, byte for byte
    assert [p.name for p in out.iterdir() if p.name.startswith(".geoplan-staging")] == []
    monkeypatch.undo()
    rc, text = invoke(["osm", "import", str(big), "--out", str(out)])
    assert rc == 0, text
    after = _tree(out)
    assert after["osm.gpkg"] != before["osm.gpkg"]
    assert after["roads.graphml"] != before["roads.graphml"]


def _failing_cog(path, *_a, **_k):
    raise OSError(28, "No space left on device", str(path))


def _failing_gpkg(*_a, **_k):
    raise RuntimeError("disk I/O error")


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [("tif", "suitability_port_logistics.tif", "cannot write (No space left on device)"),
     ("gpkg", "k.gpkg [layer zones]", "cannot write (disk I/O error)")],
)  # fmt: skip
def test_write_errors_name_the_output_not_its_staged_copy(
    tmp_path, monkeypatch, kind, target, message
):
    """A failed write said ``out/.geoplan-staging-123-ab12cd34/004-x.tif: ...``."""
    import geoplan.outputs.files as files

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(FAST + "name: k\n", encoding="utf-8")
    args = ["run", "-q", "s.yaml", "--profile", "port_logistics", "--out", "out"]
    rc, text = invoke([*args, "--only", "csv"])
    assert rc == 0, text
    before = _tree(tmp_path / "out")
    if kind == "tif":
        monkeypatch.setattr(files, "write_cog", _failing_cog)
    else:
        monkeypatch.setattr(files.pyogrio, "write_dataframe", _failing_gpkg)
    rc, text = invoke([*args, "--only", kind])
    assert rc == 1, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines == [f"error: out/{target}: {message}"], text
    assert _tree(tmp_path / "out") == before
