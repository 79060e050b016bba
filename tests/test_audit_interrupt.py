"""Audit: Ctrl-C (SIGINT) while a run writes its outputs.

The earlier run's files stay byte for byte as they were, the staging folder
goes, the user's inputs are untouched, nothing is printed but one line (no
traceback), and the next run into the folder succeeds. (SIGKILL is covered
by test_atomicity.py.)
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO

FAST = "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1}\n"


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".geoplan.lock"
    }


def _cmd(scenario: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "geoplan", "run", "-q", str(scenario), "--out", str(out),
            "--only", "csv,gpkg,tif,map,report"]  # fmt: skip


def _default_sigint() -> None:  # a shell's background job may ignore SIGINT: restore it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_while_writing_leaves_the_previous_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sc = tmp_path / "s.yaml"
    sc.write_text(FAST, encoding="utf-8")
    out = tmp_path / "out"
    subprocess.run(_cmd(sc, out), env=env, check=True, capture_output=True,
                   preexec_fn=_default_sigint)  # fmt: skip
    before = _tree(out)
    inputs = _tree(REPO / "layers")
    sc.write_text(FAST.replace("zones_per_belt: 1", "zones_per_belt: 2"), encoding="utf-8")
    interrupted = False
    for attempt in range(3):  # until the signal lands while the outputs are being written
        proc = subprocess.Popen(_cmd(sc, out), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=_default_sigint)  # fmt: skip
        while proc.poll() is None and not list(out.glob(".geoplan-staging-*/*")):
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
        if proc.returncode == 0:  # finished first: a complete new run, never a mix
            rec = json.loads((out / "run.json").read_text("utf-8"))
            assert rec["scenario"]["candidates"]["zones_per_belt"] == 2
            sc.write_text(FAST.replace("zones_per_belt: 1", f"zones_per_belt: {3 + attempt}"))
            before = _tree(out)
            continue
        interrupted = True
        text = err.decode()
        assert "Traceback" not in text, text
        assert [ln for ln in text.splitlines() if ln.strip()] == ["Aborted!"], text
        assert _tree(out) == before  # no staging folder left, every file as it was
        break
    if not interrupted:
        pytest.skip("every run finished before the signal reached it")
    assert _tree(REPO / "layers") == inputs
    done = subprocess.run(_cmd(sc, out), env=env, capture_output=True, text=True,
                          preexec_fn=_default_sigint)  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = _tree(out)
    assert after != before and not [k for k in after if k.startswith(".geoplan-staging")]
