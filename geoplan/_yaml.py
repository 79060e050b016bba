"""The one safe YAML reader for scenario files, run files and ``--set`` values.

This module owns turning YAML text (or a YAML file) into plain Python data
(dict, list, str, int, float, bool, None, dates) and refusing, with ONE line
that starts with the file path, everything a hostile or broken file can do:

* a file larger than ``max_bytes`` (checked with ``stat`` before reading, and
  again while reading, so ``/dev/zero`` cannot fill memory);
* bytes that are not UTF-8 (a binary file gives the byte offset, never a
  ``UnicodeDecodeError``);
* duplicate keys in any mapping (PyYAML silently keeps the last one);
* nesting deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses, so a
  5,000-deep ``[[[[...]]]]`` would raise ``RecursionError``);
* more than :data:`MAX_NODES` nodes once every alias is expanded (the
  "billion laughs" bomb) and aliases to a node that contains them (cycles);
* syntax errors and arbitrary tags (only the safe loader's types exist).

Aliases: bounded, not forbidden. Anchors and merge keys (``<<: *base``) are a
legitimate way to share a block of criteria between profiles, so refusing
them outright would break honest files. Instead the parser's event stream is
checked while the composer consumes it: each anchored node's *expanded* size
(scalars, collections and the expanded size of every alias inside it) is
recorded as one integer when the node ends, and an alias adds its anchor's
recorded size to its parents. Nothing is ever expanded, so a 10-line bomb
whose expansion is 10^9 nodes is refused after a few hundred events, in
constant memory. Because the total is bounded, the loaded value is then
copied so that aliased parts are *independent* objects (mutating one profile
never changes another that shared its anchor).

Numbers: PyYAML follows YAML 1.1, where ``1e9`` (no dot) is a string. This
reader uses a YAML 1.2-style float pattern so ``1e9``, ``2.5E-3`` and
``-1e+3`` load as floats; integers stay integers and ``.nan``/``.inf`` stay
floats (rejecting non-finite values is the scenario layer's job).

It must not: know anything about scenario keys, resolve paths, or import the
engine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)
from yaml.nodes import MappingNode, ScalarNode

from geoplan._errors import ScenarioError

__all__ = ["MAX_DEPTH", "MAX_NODES", "parse_yaml", "read_yaml_file"]

#: Deepest nesting of sequences and mappings accepted (the default scenario uses 6).
MAX_DEPTH = 64
#: Most nodes accepted after expanding every alias (the default scenario has ~900).
MAX_NODES = 100_000

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A limit was hit while parsing; carries the 1-based line and the message."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats, duplicate-key, depth and alias-expansion checks."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(_FLOAT_TAG, _FLOAT) if tag == _FLOAT_TAG else (tag, rx) for tag, rx in entries]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # stack of [anchor, expanded node count so far] for open collections
        self._open: list[list[Any]] = []
        self._sizes: dict[str, int] = {}
        self._total = 0

    # -- event accounting (runs before the composer builds the node) ---------
    def get_event(self) -> Any:
        event = super().get_event()
        self._account(event)
        return event

    def _add(self, n: int, event: Any) -> None:
        if self._open:
            self._open[-1][1] += n
        else:
            self._total += n
        if self._open_total() > MAX_NODES:
            raise _Refused(
                event.start_mark.line + 1,
                f"aliases expand to more than {MAX_NODES:,} nodes"
                + (f" (at alias '*{event.anchor}')" if isinstance(event, AliasEvent) else "")
                + "; geoplan refuses such files (a 'billion laughs' bomb?)",
            )

    def _open_total(self) -> int:
        return self._total + sum(frame[1] for frame in self._open)

    def _account(self, event: Any) -> None:
        if isinstance(event, CollectionStartEvent):
            if len(self._open) >= MAX_DEPTH:
                raise _Refused(
                    event.start_mark.line + 1,
                    f"nesting deeper than {MAX_DEPTH} levels; geoplan refuses such files",
                )
            self._open.append([event.anchor, 1])
            if event.anchor is not None:
                self._sizes.pop(event.anchor, None)  # redefined: not usable inside itself
        elif isinstance(event, CollectionEndEvent):
            anchor, size = self._open.pop()
            if anchor is not None:
                self._sizes[anchor] = size
            self._add(size, event)
        elif isinstance(event, ScalarEvent):
            if event.anchor is not None:
                self._sizes[event.anchor] = 1
            self._add(1, event)
        elif isinstance(event, AliasEvent):
            if event.anchor not in self._sizes:
                if any(frame[0] == event.anchor for frame in self._open):
                    raise _Refused(
                        event.start_mark.line + 1,
                        f"alias '*{event.anchor}' refers to a node that contains it "
                        "(a cycle); geoplan refuses recursive structures",
                    )
                return  # undefined alias: the composer reports it
            self._add(self._sizes[event.anchor], event)

    # -- duplicate keys --------------------------------------------------------
    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable key: PyYAML reports it
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    shown = key_node.value if isinstance(key_node, ScalarNode) else key
                    raise _Refused(line, f"duplicate key '{shown}' (first at line {first})")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _unshare(obj: Any) -> Any:
    """Copy containers so that aliased parts become independent objects."""
    if isinstance(obj, dict):
        return {k: _unshare(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unshare(v) for v in obj]
    return obj


def _syntax_line(source: str, text: str, exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return (
            f"{source}: line {line}: character U+{exc.character:04X} is not allowed in YAML "
            "(a control character: is this a text file?)"
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    problem = " ".join(", ".join(str(x) for x in parts if x).split()) or str(exc)
    if isinstance(exc, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
        found = re.search(r"'([^']*)'", problem)
        tag = (found.group(1) if found else "?").replace("tag:yaml.org,2002:", "!!")
        return (
            f"{source}: {where}tag '{tag}' is not allowed; geoplan reads plain YAML "
            "(mappings, lists, strings, numbers, booleans, null)"
        )
    return f"{source}: {where}not valid YAML ({problem})"


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text safely into plain Python data.

    Parameters
    ----------
    text : str
        The YAML document (a single document).
    source : str
        What to name in messages: a file path, or e.g. ``"--set grid.bbox"``.

    Returns
    -------
    Any
        dict, list, str, int, float, bool, None or date; aliased parts are
        independent copies.

    Raises
    ------
    ScenarioError
        One line starting with ``source``: syntax error, duplicate key, too
        deep, too many nodes after alias expansion, cyclic alias or a tag.

    Examples
    --------
    >>> parse_yaml("grid: {resolution_m: 250}\\nscale: 1e3\\n", "s.yaml")
    {'grid': {'resolution_m': 250}, 'scale': 1000.0}
    >>> parse_yaml("a: 1\\na: 2\\n", "s.yaml")
    Traceback (most recent call last):
    ...
    geoplan._errors.ScenarioError: s.yaml: line 2: duplicate key 'a' (first at line 1)
    """
    loader = None
    try:
        loader = _Loader(text)
        data = loader.get_single_data()
    except _Refused as exc:
        raise ScenarioError(f"{source}: line {exc.line}: {exc.message}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(_syntax_line(source, text, exc)) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise ScenarioError(f"{source}: nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()
    return _unshare(data)


def read_yaml_file(
    path: str | os.PathLike[str], *, what: str = "scenario", max_bytes: int = 1_000_000
) -> Any:
    """Read and parse a YAML file safely (size, encoding and structure bounded).

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file is, for messages ("scenario", "run file").
    max_bytes : int
        Largest file accepted, in bytes.

    Returns
    -------
    Any
        As :func:`parse_yaml`.

    Raises
    ------
    ScenarioError
        One line starting with the path: missing or unreadable, too large,
        not UTF-8, or anything :func:`parse_yaml` refuses.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.yaml"
    >>> _ = p.write_text("name: test\\n", encoding="utf-8")
    >>> read_yaml_file(p)
    {'name': 'test'}
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ScenarioError(f"{p}: is a folder; expected a {what} YAML file")
        if size > max_bytes:
            raise ScenarioError(
                f"{p}: {what} file is {size:,} bytes; the limit is {max_bytes:,} bytes"
            )
        with open(p, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > max_bytes:
        raise ScenarioError(f"{p}: {what} file is over the limit of {max_bytes:,} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise ScenarioError(
            f"{p}: not UTF-8 text (byte 0x{bad} at offset {exc.start}); save the {what} as UTF-8"
        ) from None
    return parse_yaml(text, str(p))
