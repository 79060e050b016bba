"""The safe YAML reader: every hostile or broken file gives one line naming the file."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from geoplan._errors import ScenarioError
from geoplan._yaml import MAX_DEPTH, MAX_NODES, parse_yaml, read_yaml_file


def _refusal(fn, *args, **kwargs) -> str:
    with pytest.raises(ScenarioError) as info:
        fn(*args, **kwargs)
    lines = info.value.lines()
    assert len(lines) == 1, lines
    assert "\n" not in lines[0]
    return lines[0]


def _bomb(levels: int = 9) -> str:
    """The classic 'billion laughs': 9**levels strings from ~10 lines."""
    out = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        out.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(out) + "\n"


def test_numbers_in_exponent_form_are_floats_and_ints_stay_ints():
    data = parse_yaml(
        "a: 1e9\nb: 2.5E-3\nc: -1e+3\nd: 7\ne: .nan\nf: -.inf\ng: 250\nh: '1e9'\ni: 1.5\n", "s"
    )
    assert data["a"] == 1e9 and isinstance(data["a"], float)
    assert data["b"] == 0.0025 and isinstance(data["b"], float)
    assert data["c"] == -1000.0 and isinstance(data["c"], float)
    assert data["d"] == 7 and type(data["d"]) is int
    assert data["g"] == 250 and type(data["g"]) is int
    assert math.isnan(data["e"])
    assert data["f"] == -math.inf
    assert data["h"] == "1e9"  # quoted stays a string
    assert data["i"] == 1.5


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("name: x\ngrid:\n  resolution_m: 250\nprofiles: {}\n\n\ngrid: {}\n")
    line = _refusal(read_yaml_file, p)
    assert line == f"{p}: line 7: duplicate key 'grid' (first at line 2)"
    nested = _refusal(parse_yaml, "a:\n  b: 1\n  c: 2\n  b: 3\n", "n.yaml")
    assert nested == "n.yaml: line 4: duplicate key 'b' (first at line 2)"


def test_merge_keys_are_not_duplicates_and_aliases_are_independent_copies():
    text = "base: &b {w: 1, t: linear}\np1: {<<: *b, w: 2}\np2: *b\np3: *b\n"
    data = parse_yaml(text, "s")
    assert data["p1"] == {"w": 2, "t": "linear"}
    data["p2"]["w"] = 99
    assert data["p3"]["w"] == 1 and data["base"]["w"] == 1


def test_billion_laughs_is_refused():
    line = _refusal(parse_yaml, _bomb(), "bomb.yaml")
    assert line.startswith("bomb.yaml: line ")
    assert f"more than {MAX_NODES:,} nodes" in line
    # 9**5 + ... > 100,000 is first passed at the alias on the line of a5 (line 6)
    assert line.startswith("bomb.yaml: line 6:")


def test_alias_expansion_just_under_the_limit_loads():
    # 9**4 strings = 6561 leaves: well under the limit, and loads with the right size
    data = parse_yaml(_bomb(5), "ok.yaml")
    flat = data["a4"]
    count = 0
    stack = [flat]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
        else:
            count += 1
    assert count == 9**5


def test_cyclic_alias_is_refused():
    line = _refusal(parse_yaml, "a: &a [1, *a]\n", "c.yaml")
    assert line.startswith("c.yaml: line 1: alias '*a' refers to a node that contains it")


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, "".join("  " * i + "k:\n" for i in range(5000)) + "  " * 5000 + "1"],
    ids=["flow-sequences", "block-mappings"],
)
def test_deep_nesting_is_one_line_not_recursion_error(text):
    line = _refusal(parse_yaml, text, "deep.yaml")
    assert line.startswith("deep.yaml: line ")
    assert f"nesting deeper than {MAX_DEPTH} levels" in line


def test_nesting_at_the_limit_loads():
    data = parse_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, "s")
    depth = 0
    while isinstance(data, list):
        depth += 1
        data = data[0] if data else None
    assert depth == MAX_DEPTH
    _refusal(parse_yaml, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "s")


def test_syntax_error_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ngrid:\n  resolution_m: [250\nb: 1\n")
    line = _refusal(read_yaml_file, p)
    assert line.startswith(f"{p}: line ")
    assert "not valid YAML (" in line
    assert _refusal(parse_yaml, "a: 1\n  b: 2\n", "s").startswith("s: line 2: not valid YAML")


def test_tags_are_refused():
    line = _refusal(parse_yaml, "a: !!python/object/apply:os.system ['echo hi']\n", "t.yaml")
    assert line.startswith("t.yaml: line 1: tag '!!python/object/apply:os.system' is not allowed")


def test_file_too_large_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("a: 1\n" + "#" * 2000 + "\n")
    size = p.stat().st_size
    line = _refusal(read_yaml_file, p, max_bytes=1000)
    assert line == f"{p}: scenario file is {size:,} bytes; the limit is 1,000 bytes"
    assert read_yaml_file(p, max_bytes=size) == {"a": 1}


def test_non_utf8_and_binary_files_give_the_offset(tmp_path):
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: café\n".encode("latin-1"))  # é is byte 9, 0xe9
    line = _refusal(read_yaml_file, latin)
    assert line.startswith(f"{latin}: not UTF-8 text (byte 0xe9 at offset 9)")
    binary = tmp_path / "image.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    line = _refusal(read_yaml_file, binary)
    assert line.startswith(f"{binary}: not UTF-8 text (byte 0x89 at offset 0)")
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"a: 1\nb: \x00\n")
    assert _refusal(read_yaml_file, nul).startswith(f"{nul}: line 2: character U+0000")


def test_missing_file_and_folder(tmp_path):
    assert _refusal(read_yaml_file, tmp_path / "nope.yaml").startswith(
        f"{tmp_path / 'nope.yaml'}: cannot read"
    )
    assert "is a folder" in _refusal(read_yaml_file, tmp_path)


def test_utf8_with_korean_and_bom_loads(tmp_path):
    p = tmp_path / "ko.yaml"
    p.write_bytes("\ufeffname: 평양\n".encode())
    assert read_yaml_file(p) == {"name": "평양"}


def _run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geoplan", *args], capture_output=True, text=True, check=False
    )


_PEAK = """
import resource, subprocess, sys
proc = subprocess.run(
    [sys.executable, "-m", "geoplan", "scenario", "check", sys.argv[1]],
    capture_output=True, text=True, check=False,
)
sys.stderr.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_cli_refuses_the_bomb_in_small_memory(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb())
    # a fresh parent, so RUSAGE_CHILDREN holds only the geoplan process's peak
    wrap = subprocess.run(
        [sys.executable, "-c", _PEAK, str(p)], capture_output=True, text=True, check=False
    )
    code, peak_kib = (int(x) for x in wrap.stdout.split())
    assert code == 1
    assert "Traceback" not in wrap.stderr and "internal error" not in wrap.stderr
    assert f"{p}: line 6: aliases expand to more than" in wrap.stderr
    assert peak_kib / 1024 < 300, peak_kib / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[" * 5000 + "]" * 5000, "nesting deeper than"),
        ("name: a\nname: b\n", "line 2: duplicate key 'name' (first at line 1)"),
        (b"\xff\xfe\x00\x01", "not UTF-8 text"),
    ],
    ids=["deep", "duplicate", "binary"],
)
def test_cli_scenario_check_gives_one_line(tmp_path, content, fragment):
    p = tmp_path / "s.yaml"
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    proc = _run_cli(["scenario", "check", str(p)])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert str(p) in proc.stderr and fragment in proc.stderr


def test_default_scenario_reads_through_the_safe_reader():
    from geoplan.scenario import default_path

    data = read_yaml_file(default_path())
    assert isinstance(data, dict) and "profiles" in data
    assert Path(default_path()).stat().st_size < 1_000_000
