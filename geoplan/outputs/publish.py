"""Run-level atomicity: a lock on the output folder, a staging folder, and one publish step.

A run writes every output into ``<out>/.geoplan-staging-<id>/``. Only when
all of them are written does it publish: it records the planned renames in
``<out>/.geoplan-publish.json`` (fsynced), renames each staged file onto its
target, then removes the journal and the staging folder. A failure before
publishing removes the staging folder and leaves the previous run's files
exactly as they were. A run killed while publishing leaves the journal; the
next run into that folder finishes the renames first (roll forward), so the
folder never keeps a mix of two runs. Stale staging folders and temporary
files of killed runs are removed by the next run.

One run at a time per output folder: a second run into a folder another
run holds fails at once with one line (an advisory ``flock`` on
``<out>/.geoplan.lock``, released by the kernel even after SIGKILL).

Names that become file names are slugs (:func:`safe_name`) and every target
is checked to lie inside its folder before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from geoplan._errors import ExportError

__all__ = ["Staging", "check_folder", "inside", "safe_name", "staging", "unique_names"]

LOCK = ".geoplan.lock"
JOURNAL = ".geoplan-publish.json"
STAGING_PREFIX = ".geoplan-staging-"
#: Temporary files older geoplan versions (and GDAL) leave beside a target when killed.
#: Names Windows gives to devices, with any extension (``CON.gpkg`` opens the console).
_RESERVED = re.compile(
    r"^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$", re.I
)
#: Bytes (UTF-8) of a slug: with a prefix such as ``suitability_`` and the staging
#: folder's ``NNN-`` it stays well under the 255-byte limit of a file name.
MAX_SLUG_BYTES = 120
_STALE = re.compile(
    r"^\..+\.[a-z0-9_]{8}\.(gpkg|tif|html|csv|json)$|\.tif\.ovr\.tmp$|\.aux\.xml\.tmp$"
)


def safe_name(name: str, *, fallback: str = "scenario", limit: int = 80) -> str:
    """A file-name-safe slug of a user's name (scenario, profile, layer).

    Letters (any script), digits, ``-``, ``_`` and ``.`` are kept; every other
    character becomes ``_``; leading dots and underscores are dropped, so the
    result is never a path, a hidden file, ``.`` or ``..``.

    Examples
    --------
    >>> safe_name("../../../tmp/evil"), safe_name("/etc/passwd"), safe_name("남포 west")
    ('tmp_evil', 'etc_passwd', '남포_west')
    >>> safe_name("CON"), safe_name("nul.txt"), len(safe_name("한" * 300).encode())
    ('CON_', 'nul_.txt', 120)
    """
    text = unicodedata.normalize("NFC", str(name))
    text = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in text)
    text = re.sub(r"_+", "_", text)
    text = re.sub(r"\.{2,}", ".", text).lstrip("._").rstrip(".")
    text = text[:limit].rstrip("._")
    while len(text.encode("utf-8")) > MAX_SLUG_BYTES:  # Korean letters are 3 bytes each
        text = text[:-1].rstrip("._")
    if not text:
        return fallback
    head, dot, tail = text.partition(".")
    if _RESERVED.match(head):  # a device name on Windows, whatever the extension
        text = f"{head}_{dot}{tail}"
    return text


def unique_names(names: Iterable[str], *, fallback: str = "profile") -> dict[str, str]:
    """A slug (:func:`safe_name`) per name, distinct even where two names slug alike.

    Names whose slugs collide (``a/b`` and ``a_b``; ``Port`` and ``port`` on a
    case-insensitive disk) get a suffix from a hash of the name, so one file
    never overwrites another and a name's file does not depend on the others'
    order. A name that is already its own slug keeps it if no other does.

    Examples
    --------
    >>> unique_names(["a_b", "a/b", "c"])
    {'a_b': 'a_b', 'a/b': 'a_b_c14cddc0', 'c': 'c'}
    """
    names = list(dict.fromkeys(names))
    slugs = {n: safe_name(n, fallback=fallback) for n in names}
    groups: dict[str, list[str]] = {}
    for n, s in slugs.items():
        groups.setdefault(s.casefold(), []).append(n)
    out = {}
    for n, s in slugs.items():
        group = groups[s.casefold()]
        keeps = [m for m in group if m == slugs[m]]
        if len(group) == 1 or (keeps == [n]):
            out[n] = s
        else:
            out[n] = f"{s}_{hashlib.sha256(n.encode('utf-8')).hexdigest()[:8]}"
    return out


def check_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder``, refused unless it is, or can be made, a writable folder.

    Called before a run starts, so a bad ``--out`` (a file, a path through a
    file, a read-only parent) fails at once instead of after the whole run.

    Examples
    --------
    >>> check_folder("/etc/hostname/sub")  # doctest: +SKIP
    Traceback (most recent call last):
    ExportError: /etc/hostname/sub: cannot be an output folder: /etc/hostname is a file
    """
    folder = Path(folder)
    probe = Path(os.path.abspath(folder))
    while not probe.exists():  # the nearest existing folder must take new entries
        if probe.is_symlink():
            raise ExportError(f"{folder}: cannot be an output folder: {probe} is a broken link")
        probe = probe.parent
    if not probe.is_dir():
        raise ExportError(f"{folder}: cannot be an output folder: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ExportError(f"{folder}: cannot be an output folder: {probe} is not writable")
    return folder


def inside(folder: Path, target: Path) -> Path:
    """``target``, refused unless it resolves inside ``folder``."""
    root = folder.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        raise ExportError(f"{target}: refusing to write outside the output folder {folder}")
    return target


class Staging:
    """A staging folder whose files are published together onto their targets."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.dir = folder / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.planned: list[tuple[Path, Path]] = []

    def path(self, target: Path, root: Path) -> Path:
        """A staged path for ``target`` (which must lie inside ``root``)."""
        inside(root, target)
        staged = self.dir / f"{len(self.planned):03d}-{target.name}"
        self.planned.append((staged, target))
        return staged

    def publish(self) -> dict[Path, Path]:
        """Rename every staged file onto its target (journalled: a kill rolls forward)."""
        moves = [(s, Path(os.path.abspath(t))) for s, t in self.planned if s.exists()]
        for _, t in moves:  # refuse before the first rename, never half-way through
            if t.is_dir() and not t.is_symlink():
                raise ExportError(f"{t}: is a folder; remove it or choose another --out")
        journal = self.folder / JOURNAL
        tmp = journal.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump([[str(s), str(t)] for s, t in moves], fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, journal)
        _apply(moves)
        journal.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)
        return {t: s for s, t in moves}


def _apply(moves: list[tuple[Path, Path]]) -> None:
    for staged, target in moves:
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)


def _may_move(folder: Path, staged: Path, target: Path) -> bool:
    """Whether a journal entry is one :meth:`Staging.publish` could have written."""
    if staged.parent.parent != folder or not staged.parent.name.startswith(STAGING_PREFIX):
        return False
    if ".." in staged.parts or ".." in target.parts:
        return False
    if folder.resolve() in target.resolve().parents:
        return True
    # the map of a run without --out: maps/<slug>.html beside the data folder's parent
    return (
        target.suffix == ".html"
        and target.parent.name == "maps"
        and safe_name(target.stem) == target.stem
    )


def recover(folder: Path) -> None:
    """Finish an interrupted publish and remove what killed runs left behind."""
    journal = folder / JOURNAL
    if journal.exists():
        try:
            moves = [(Path(s), Path(t)) for s, t in json.loads(journal.read_text("utf-8"))]
        except (OSError, ValueError, TypeError, UnicodeDecodeError):
            moves = []
        # only files of our own staging folders, onto targets beside or below this folder
        ok = [(s, t) for s, t in moves if _may_move(folder, s, t)]
        _apply(ok)
        journal.unlink()
    for p in folder.iterdir() if folder.is_dir() else []:
        if p.is_dir() and p.name.startswith(STAGING_PREFIX):
            shutil.rmtree(p, ignore_errors=True)
        elif (p.is_file() and _STALE.search(p.name)) or p.name == JOURNAL + ".tmp":
            with contextlib.suppress(OSError):
                p.unlink()


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    import fcntl

    path = folder / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            except OSError:
                holder = "?"
            raise ExportError(
                f"{folder}: another geoplan run (pid {holder or '?'}) is writing here; wait for "
                "it to finish or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging(folder: Path) -> Iterator[Staging]:
    """Lock ``folder``, clean up after killed runs, and yield a :class:`Staging`.

    The caller writes through ``Staging.path`` and calls ``publish`` at the
    end; on any exception the staging folder is removed and nothing is
    published.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{folder}: cannot create the output folder ({exc.strerror})") from exc
    with _lock(folder):
        recover(folder)
        st = Staging(folder)
        st.dir.mkdir()
        try:
            yield st
        except OSError as exc:  # ExportError included: name the output, not its staged copy
            text = _unstaged(st, str(exc) if isinstance(exc, ExportError) else "")
            if not isinstance(exc, ExportError) and exc.filename is not None:
                text = _unstaged(st, f"{exc.filename}: cannot write ({exc.strerror or exc})")
            if text and text != str(exc):
                raise ExportError(text) from exc
            raise
        finally:
            shutil.rmtree(st.dir, ignore_errors=True)


def _unstaged(st: Staging, text: str) -> str:
    """``text`` with each staged path replaced by its target (errors name what the user asked
    for, not ``.geoplan-staging-123-ab12cd34/004-x.tif``)."""
    for staged, target in sorted(st.planned, key=lambda p: -len(str(p[0]))):
        text = text.replace(str(staged), str(target))
    return text.replace(f"{st.dir}{os.sep}", f"{st.folder}{os.sep}")
