"""What every subcommand shares: error handling, verbosity flags, logging and warnings.

``-v``/``-q`` are accepted before and after the subcommand (``geoplan -q run``
and ``geoplan run -q``). Errors a user caused become one line each on stderr
and exit code 1; warnings are printed once, one clean line each, and not at
all under ``-q``.
"""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from geoplan._errors import GeoplanError

__all__ = ["handle_errors", "verbosity"]

log = logging.getLogger("geoplan")


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(1)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn geoplan errors (and unreadable files) into one line each and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GeoplanError as exc:
            _fail(exc.lines())
        except MemoryError:
            _fail(["out of memory: use a coarser grid, --bbox or --engine dask"])
        except OSError as exc:
            _fail([f"{getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}".lstrip(": ")])
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.debug("internal error", exc_info=True)
            _fail([f"internal error: {type(exc).__name__}: {exc} (rerun with -v for details)"])

    return wrapper


_seen: set[str] = set()


def _showwarning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    text = str(message).strip()
    if text in _seen:
        return
    _seen.add(text)
    if logging.getLogger("geoplan").level > logging.WARNING:
        return
    click.echo(f"warning: {text}", err=True)


def _apply(ctx: click.Context) -> None:
    obj = ctx.ensure_object(dict)
    quiet = obj.get("quiet", False)
    verbose = obj.get("verbose", 0)
    level = logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * (verbose + 1))
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    logging.getLogger("geoplan").setLevel(level)
    warnings.showwarning = _showwarning
    warnings.simplefilter("ignore" if quiet else "default", UserWarning)
    warnings.simplefilter("ignore", RuntimeWarning)


def _set_quiet(ctx: click.Context, _param: Any, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["quiet"] = True
        root = ctx.find_root()
        root.ensure_object(dict)["quiet"] = True
    _apply(ctx)


def _set_verbose(ctx: click.Context, _param: Any, value: int) -> None:
    if value:
        for c in (ctx, ctx.find_root()):
            obj = c.ensure_object(dict)
            obj["verbose"] = obj.get("verbose", 0) + value
    _apply(ctx)


def verbosity(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-v``/``-q`` to a command (they also work before the subcommand)."""
    fn = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_quiet,
        help="Only errors; no progress.",
    )(fn)
    fn = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_set_verbose,
        help="More log output (repeatable).",
    )(fn)
    return fn


def quiet(ctx: click.Context) -> bool:
    """Whether ``-q`` was given anywhere on the command line."""
    return bool(ctx.find_root().ensure_object(dict).get("quiet")) or bool(
        ctx.ensure_object(dict).get("quiet")
    )
