"""The message catalogue: every user-facing string of the map and the report, in English and Korean.

One keyed catalogue, kept as YAML files beside this module (``common.yaml``
for labels shared by every output, ``map.yaml``, ``report.yaml``); each key
maps to ``{en: ..., ko: ...}``. Placeholders use ``str.format`` syntax
(``{name}``) and must be the same in both languages (a test holds every key
complete). English is the default and the fallback.

Owns words only: it formats numbers it is handed, reads no data and writes
no files.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "LANGUAGES",
    "belt_label",
    "catalogue",
    "criterion_label",
    "place_label",
    "profile_label",
    "t",
]

#: Languages every key must have.
LANGUAGES = ("en", "ko")
_FILES = ("common.yaml", "map.yaml", "report.yaml")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every key with its translations, from all catalogue files.

    Examples
    --------
    >>> catalogue()["belt.west_coast"]["ko"]
    '서해안'
    """
    out: dict[str, dict[str, str]] = {}
    root = resources.files("geoplan.i18n")
    for name in _FILES:
        f = root.joinpath(name)
        if not f.is_file():
            continue
        # the package's own files: libyaml's parser where present (same result, 10x faster)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(f.read_text(encoding="utf-8"), Loader=loader) or {}
        for key, entry in data.items():
            if key in out:
                raise ValueError(f"geoplan/i18n/{name}: key '{key}' is defined twice")
            out[str(key)] = {str(k): str(v) for k, v in entry.items()}
    return out


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders in a catalogue string."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def t(key: str, lang: str = "en", /, **values: Any) -> str:
    """The message ``key`` in ``lang``, formatted with ``values``.

    Falls back to English when a language lacks the key; an unknown key
    raises ``KeyError`` (a programming error, caught by the tests).

    Examples
    --------
    >>> t("phase.name.1", "en"), t("phase.name.1", "ko")
    ('foundation', '기반 조성')
    >>> t("place.far", "en", km=12, bearing="SE", place="Nampo")
    '12 km SE of Nampo'
    """
    entry = catalogue()[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def _pick(label: Mapping[str, str] | None, lang: str) -> str | None:
    if not label:
        return None
    return label.get(lang) or label.get("en")


def belt_label(belt: str, lang: str = "en") -> str:
    """Human label of a belt (``west_coast`` -> ``West coast`` / ``서해안``)."""
    key = f"belt.{belt}"
    return t(key, lang) if key in catalogue() else belt.replace("_", " ")


def profile_label(name: str, lang: str = "en", label: Mapping[str, str] | None = None) -> str:
    """Human label of a profile: the scenario's ``label``, the catalogue's, or the name."""
    own = _pick(label, lang)
    if own:
        return own
    key = f"profile.{name}"
    return t(key, lang) if key in catalogue() else name.replace("_", " ")


def criterion_label(name: str, lang: str = "en", label: Mapping[str, str] | None = None) -> str:
    """Human label of a criterion (``labour_pool`` -> ``Labour pool within 30 km``)."""
    own = _pick(label, lang)
    if own:
        return own
    key = f"criterion.{name}"
    return t(key, lang) if key in catalogue() else name.replace("_", " ")


def place_label(name: str, name_ko: str | None, lang: str = "en") -> str:
    """A place name for ``lang``: in Korean, Hangul with the romanisation beside it.

    Examples
    --------
    >>> place_label("Nampo", "남포", "ko"), place_label("Nampo", "남포", "en")
    ('남포 Nampo', 'Nampo')
    """
    if lang == "ko" and name_ko:
        return f"{name_ko} {name}"
    return name
