"""
Annotation folder store
=======================

Define the file side of ``ccharmony annotate``: every read and write of the
raw and annotation folders goes through here.

-   :class:`AnnotateError`, :class:`ConflictError`, :class:`PathRefusedError`:
    what the server turns into 4xx answers.
-   :func:`confined_path`: a path inside a root, refusing ``..``, absolute
    parts and symbolic links (resolve, then check containment).
-   :func:`index_photos`: the photos of a raw folder, named as ``ccharmony
    build`` names them (file stem, any sub-folder).
-   :class:`AnnotationStore`: versioned, atomic reads and writes of the
    annotation set (ARCHITECTURE.md section 5): a file changed on disk since
    the store last read or wrote it is never overwritten silently
    (:class:`ConflictError`).

Versions are the SHA-256 of the file's bytes (``None`` for an absent file), so
a touch without a change is not a conflict and any change of content is.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ccharmony.errors import CCHarmonyError
from ccharmony.io.atomic import atomic_write_bytes
from ccharmony.io.sniff import IMAGE_EXTENSIONS, RAW_EXTENSIONS

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "AnnotateError",
    "ConflictError",
    "PathRefusedError",
    "NotFoundError",
    "confined_path",
    "index_photos",
    "PhotoIndex",
    "AnnotationStore",
    "file_version",
]


class AnnotateError(CCHarmonyError):
    """A request ``ccharmony annotate`` cannot carry out (answered with HTTP 400)."""


class ConflictError(AnnotateError):
    """A file changed on disk since it was loaded (answered with HTTP 409)."""

    def __init__(self, relative: str, message: str) -> None:
        super().__init__(message)
        self.relative = relative


class PathRefusedError(AnnotateError):
    """A path that would leave the raw or annotation folder (answered with HTTP 403)."""


class NotFoundError(AnnotateError):
    """An image or foreground that does not exist (answered with HTTP 404)."""


def file_version(data: bytes | None) -> str | None:
    """
    Return the version of a file's content: its SHA-256 (hex), ``None`` when absent.

    Examples
    --------
    >>> file_version(b"a")[:8], file_version(None)
    ('ca978112', None)
    """
    return None if data is None else hashlib.sha256(data).hexdigest()


def confined_path(root: Path, relative: str) -> Path:
    """
    Return ``root / relative`` after checking it stays inside ``root``.

    Parameters
    ----------
    root
        A resolved folder.
    relative
        A ``/``-separated relative path.

    Returns
    -------
    pathlib.Path
        The path (it need not exist).

    Raises
    ------
    PathRefusedError
        For an absolute path, a ``..`` or empty part, a NUL byte, a symbolic
        link on the way (the file itself included), or a resolved path outside
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> confined_path(root, "masks/a_a.png") == root / "masks" / "a_a.png"
    True
    >>> confined_path(root, "../etc/passwd")
    Traceback (most recent call last):
    ...
    ccharmony.annotate.store.PathRefusedError: '../etc/passwd': refused, the path must stay inside the folder
    """
    parts = relative.split("/")
    if (not relative or "\x00" in relative or relative.startswith("/") or "\\" in relative
            or any(part in ("", ".", "..") for part in parts)):
        raise PathRefusedError(f"{relative!r}: refused, the path must stay inside the folder")
    candidate = root
    for part in parts:
        candidate = candidate / part
        if candidate.is_symlink():
            raise PathRefusedError(f"{relative!r}: refused, {candidate.name!r} is a symbolic link")
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise PathRefusedError(f"{relative!r}: refused, it resolves outside {root}")
    return candidate


PHOTO_EXTENSIONS = frozenset(RAW_EXTENSIONS) | frozenset(IMAGE_EXTENSIONS)
"""Extensions listed as photos (lower case, with the dot)."""


@dataclass(frozen=True)
class PhotoIndex:
    """
    Index of a raw folder.

    Parameters
    ----------
    photos
        Image name (file stem) -> photo file, sorted by name.
    problems
        One line per file left out (duplicate name, link leaving the folder).
    """

    photos: dict[str, Path]
    problems: tuple[str, ...]


def index_photos(raw_dir: Path, *, exclude: Path | None = None) -> PhotoIndex:
    """
    List the photos of a raw folder as ``ccharmony build`` names them.

    Parameters
    ----------
    raw_dir
        The folder (searched recursively; hidden files and folders skipped).
    exclude
        A folder inside ``raw_dir`` to skip (the annotation set, when it lies
        inside the raw folder).

    Returns
    -------
    PhotoIndex
        Files with a camera RAW or image extension, named by their stem; a
        symbolic link whose target lies outside ``raw_dir`` is left out, and so
        is the second file of a duplicate name (``build`` refuses duplicates).
    """
    root = raw_dir.resolve()
    skip = exclude.resolve() if exclude is not None else None
    photos: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in PHOTO_EXTENSIONS:
            continue
        resolved = path.resolve()
        if skip is not None and (resolved == skip or skip in resolved.parents):
            continue
        if root not in resolved.parents:
            problems.append(f"{relative.as_posix()}: left out, it links outside {root}")
            continue
        if not resolved.is_file():
            continue
        if path.stem in photos:
            problems.append(
                f"{relative.as_posix()}: left out, image name {path.stem!r} is also "
                f"{photos[path.stem].relative_to(root).as_posix()} (build refuses duplicate names)"
            )
            continue
        photos[path.stem] = path
    return PhotoIndex(dict(sorted(photos.items())), tuple(problems))


class AnnotationStore:
    """
    Read and write an annotation set with version checks.

    Parameters
    ----------
    root
        The annotation folder (created with ``masks/`` when missing).

    Notes
    -----
    The store remembers the version of every file it read or wrote; a file it
    never read is taken as absent. :meth:`write` compares that version with the
    file on disk and raises :class:`ConflictError` when they differ, then writes
    with :func:`ccharmony.io.atomic.atomic_write_bytes` (a temporary file in
    the same folder renamed over the old one: a reader sees the old or the new
    file, never a part). Thread-safe.
    """

    def __init__(self, root: Path) -> None:
        root = Path(root)
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise PathRefusedError(f"{root}: the annotation folder must be a folder, not a link or a file")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self._known: dict[str, str | None] = {}
        self._lock = threading.RLock()
        for folder in ("masks", "checkers"):
            path = confined_path(self.root, folder)
            path.mkdir(exist_ok=True)

    def path(self, relative: str) -> Path:
        """Return the confined path of ``relative`` (see :func:`confined_path`)."""
        return confined_path(self.root, relative)

    def _disk(self, relative: str) -> bytes | None:
        path = self.path(relative)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise PathRefusedError(f"{relative!r}: refused, it is a folder") from None

    def read(self, relative: str) -> bytes | None:
        """Return a file's bytes (``None`` when absent) and remember its version."""
        with self._lock:
            data = self._disk(relative)
            self._known[relative] = file_version(data)
            return data

    def version(self, relative: str) -> str | None:
        """Return the version the store last saw of ``relative`` (``None``: absent or never read)."""
        with self._lock:
            return self._known.get(relative)

    def changed_on_disk(self, relative: str) -> bool:
        """Return whether ``relative`` differs on disk from what the store last saw."""
        with self._lock:
            return file_version(self._disk(relative)) != self._known.get(relative)

    def write(self, relative: str, data: bytes | None, *, expected: str | None | bool = True) -> str | None:
        """
        Write (or, with ``data=None``, delete) a file atomically, refusing silent overwrites.

        Parameters
        ----------
        relative
            Path inside the annotation folder.
        data
            New content, or ``None`` to delete the file.
        expected
            The version the caller based its change on; ``True`` (default)
            means the store's own last-seen version. A different version on
            disk raises :class:`ConflictError`.

        Returns
        -------
        str or None
            The new version.

        Raises
        ------
        ConflictError
            The file on disk is not the expected version (changed by someone
            else, or by another browser tab).
        PathRefusedError
            The path leaves the folder or goes through a link.
        """
        with self._lock:
            known = self._known.get(relative)
            base = known if expected is True else expected
            current = file_version(self._disk(relative))
            if current != known:
                raise ConflictError(
                    relative,
                    f"{relative}: changed on disk since it was loaded; reload to see the other change "
                    "(nothing was overwritten)",
                )
            if base != known:
                raise ConflictError(
                    relative,
                    f"{relative}: changed in another window since this one loaded it; reload "
                    "(nothing was overwritten)",
                )
            path = self.path(relative)
            if data is None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, data)
            self._known[relative] = file_version(data)
            return self._known[relative]

    def forget(self, relatives: list[str]) -> None:
        """Drop the remembered versions of some files (before reading them again)."""
        with self._lock:
            for relative in relatives:
                self._known.pop(relative, None)

    def listing(self, folder: str, suffix: str) -> list[str]:
        """Return the names (without ``suffix``) of the regular, non-hidden files of a sub-folder."""
        path = self.path(folder)
        if not path.is_dir():
            return []
        return sorted(
            p.name[: -len(suffix)]
            for p in path.iterdir()
            if p.name.endswith(suffix) and not p.name.startswith(".") and p.is_file() and not p.is_symlink()
        )
