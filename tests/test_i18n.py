"""The message catalogue: every key in English and Korean, with the same placeholders."""

from __future__ import annotations

import string

from geoplan.i18n import LANGUAGES, catalogue


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_key_has_both_languages_and_identical_placeholders():
    cat = catalogue()
    assert len(cat) > 100
    missing = [k for k, v in cat.items() if any(not v.get(lang) for lang in LANGUAGES)]
    assert missing == []
    differ = [k for k, v in cat.items() if _fields(v["en"]) != _fields(v["ko"])]
    assert differ == []


def test_report_keys_are_in_the_catalogue():
    keys = [k for k in catalogue() if k.startswith("report.")]
    assert "report.sec.summary" in keys and len(keys) > 50
    assert catalogue()["report.sec.summary"]["ko"] == "요약"
