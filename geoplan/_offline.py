"""Inline Leaflet (and friends) from installed XStatic packages so maps render offline.

folium's default page loads Leaflet, jQuery and Bootstrap from CDNs, which
leaves a blank page on a machine with no internet. geoplan strips every
default CDN link from the map and inlines the files shipped by the
``xstatic-leaflet`` (and related) packages instead; :func:`external_urls`
then proves no request can leave the page.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import import_module
from pathlib import Path

__all__ = ["asset_text", "external_urls", "inline_css", "inline_js", "leaflet_css"]


def _pkg_dir(module: str) -> Path:
    mod = import_module(module)
    return Path(mod.BASE_DIR) if hasattr(mod, "BASE_DIR") else Path(mod.__file__).parent / "data"


@cache
def asset_text(module: str, relpath: str) -> str:
    """Return the text of a file shipped by an XStatic package."""
    return (_pkg_dir(module) / relpath).read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".svg": "image/svg+xml"}.get(path.suffix, "application/octet")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@cache
def leaflet_css() -> str:
    """Leaflet's CSS with its images (layer-control icon, markers) as data URIs."""
    base = _pkg_dir("xstatic.pkg.leaflet")
    css = asset_text("xstatic.pkg.leaflet", "leaflet.css")

    def repl(m: re.Match[str]) -> str:
        return f"url({_data_uri(base / m.group(1))})"

    return re.sub(r"url\((images/[^)]+)\)", repl, css)


def inline_js(code: str) -> str:
    """Wrap JavaScript in a script tag, guarding against a premature ``</script>``."""
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>"


def inline_css(code: str) -> str:
    """Wrap CSS in a style tag."""
    return "<style>\n" + code.replace("</style", "<\\/style") + "\n</style>"


_URL_ATTR = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""",
    re.I,
)
_CSS_URL = re.compile(
    r"""@import\s+url\(\s*["']?((?:https?:)?//[^)"']+)|url\(\s*["']?((?:https?:)?//[^)"']+)"""
)


def external_urls(html: str) -> list[str]:
    """Return every URL the page would fetch on load (script/link/img src, CSS url())."""
    found = [m.group(1) for m in _URL_ATTR.finditer(html)]
    found += [a or b for a, b in _CSS_URL.findall(html)]
    return found
