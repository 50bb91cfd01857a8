"""
Build inputs
============

Find the photos of an annotation set and fingerprint every file a build
reads, so that a resumed or repeated build knows whether its inputs changed:

-   :func:`scan_photos`: the photo (and Gehler ``_macbeth.txt`` file) of each
    annotated image under ``--raw-dir``; regular files only, the output folder
    excluded, unreadable folders reported.
-   :class:`PhotoScan`: what the scan found.
-   :func:`fingerprint`: a content fingerprint of one file.
-   :func:`input_fingerprints`: the fingerprints of every input of a build.
-   :func:`describe_changes`: what changed between two sets of fingerprints,
    in one line.
-   :func:`irregular_kind`: ``None`` for a regular file, else what it is.

Fingerprints are content-based, never timestamps, so that two builds of the
same files (copied, checked out, on another machine) have the same build key
and ``build.json``. A photo's fingerprint is its size and the SHA-256 of its
first and last MiB (:data:`FINGERPRINT_CHUNK`): camera files carry their
metadata at the start and image data to the end, so a replaced, re-exported
or truncated photo changes it, and 350 photos of 25 MB are fingerprinted by
reading 2 MiB each instead of 9 GB. (An edit that keeps the size and touches
only the middle of a photo goes unnoticed; annotation files are small and are
hashed whole, so any change to a mask, a patch colour file, a corners or crop
file or a split list is seen.)
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "FINGERPRINT_CHUNK",
    "IGNORED_SUFFIXES",
    "PhotoScan",
    "scan_photos",
    "fingerprint",
    "input_fingerprints",
    "describe_changes",
    "irregular_kind",
]

FINGERPRINT_CHUNK = 1 << 20
"""Bytes read from each end of a photo for its fingerprint (1 MiB)."""

IGNORED_SUFFIXES = frozenset({".txt", ".json", ".csv", ".md", ".npz", ".npy", ".yaml", ".yml", ".xmp", ".pp3"})
"""Side-car files under ``--raw-dir`` that are never photos."""


@dataclass(frozen=True)
class PhotoScan:
    """
    What :func:`scan_photos` found.

    Parameters
    ----------
    photos
        Image name -> its photo (a regular file, links followed).
    macbeth
        Image name -> its Gehler-Shi ``<name>_macbeth.txt`` chart coordinates.
    irregular
        Image name -> one-line reason, for an image whose only candidate is not
        a regular file (a FIFO, a socket, a device, a broken link).
    problems
        Folders that could not be read, one line each (their photos are not used).
    """

    photos: dict[str, Path] = field(default_factory=dict)
    macbeth: dict[str, Path] = field(default_factory=dict)
    irregular: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def irregular_kind(path: Path) -> str | None:
    """Return ``None`` for a regular file (links followed), else what it is, for messages (``"a FIFO (named pipe)"``)."""
    from ccharmony.io.files import file_kind

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "gone"
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    return None if stat.S_ISREG(mode) else file_kind(mode)


def _is_dataset(folder: Path) -> bool:
    """Whether ``folder`` is a dataset ccharmony built (or is building): its JPEGs are not photos."""
    from ccharmony.dataset.output import STATE_DIR

    return (folder / STATE_DIR).is_dir() or ((folder / "build.json").is_file() and (folder / "real_images").is_dir())


def scan_photos(raw_dir: Path, wanted: Iterable[str], *, exclude: Iterable[Path] = ()) -> PhotoScan:
    """
    Find the photo of each wanted image name under ``raw_dir`` (any depth).

    Parameters
    ----------
    raw_dir
        The folder of photos.
    wanted
        Image names (file stems) to look for.
    exclude
        Folders never entered: the build's own output folder when it lies
        inside ``raw_dir`` (its ``real_images/`` would otherwise be taken for
        photos when the build resumes). Other dataset folders that ccharmony
        built inside ``raw_dir`` are not entered either, and reported in
        :attr:`PhotoScan.problems`.

    Returns
    -------
    PhotoScan

    Raises
    ------
    DatasetError
        ``raw_dir`` itself cannot be read (permission denied ...), or two
        regular files are photos of the same image.

    Notes
    -----
    Hidden files (``.name``) and side-car files (:data:`IGNORED_SUFFIXES`)
    are skipped. Only regular files are photos: a FIFO would block a reader
    for ever, so it is reported in :attr:`PhotoScan.irregular` instead. Links
    to files are followed; links to folders are not entered.
    """
    wanted = set(wanted)
    excluded = {os.path.realpath(folder) for folder in exclude}
    failures: list[OSError] = []
    candidates: list[Path] = []
    problems = []
    for folder, folders, files in os.walk(raw_dir, onerror=failures.append):
        kept = []
        for name in sorted(folders):
            inner = os.path.join(folder, name)
            if os.path.realpath(inner) in excluded:
                continue
            if _is_dataset(Path(inner)):
                problems.append(f"{inner}: a ccharmony dataset folder inside --raw-dir, not searched for photos")
                continue
            kept.append(name)
        folders[:] = kept
        candidates.extend(Path(folder, name) for name in files)
    for failure in failures:
        where = Path(failure.filename) if failure.filename is not None else raw_dir
        reason = (failure.strerror or str(failure)).lower()
        if os.path.abspath(where) == os.path.abspath(raw_dir):
            raise DatasetError(f"{raw_dir}: cannot read the --raw-dir folder ({reason})")
        problems.append(f"{where}: cannot read the folder ({reason}); photos in it are not used")
    photos: dict[str, Path] = {}
    macbeth: dict[str, Path] = {}
    irregular: dict[str, str] = {}
    for path in sorted(candidates):
        if path.name.startswith("."):
            continue
        if path.name.endswith("_macbeth.txt"):
            name = path.name[: -len("_macbeth.txt")]
            if name in wanted and irregular_kind(path) is None:
                macbeth[name] = path
            continue
        if path.suffix.lower() in IGNORED_SUFFIXES or path.stem not in wanted:
            continue
        kind = irregular_kind(path)
        if kind is not None:
            irregular.setdefault(path.stem, f"{path}: is {kind}, not a photo; ccharmony reads only regular files")
            continue
        if path.stem in photos:
            raise DatasetError(
                f"{path}: duplicate photo for image {path.stem!r} (also {photos[path.stem]}); keep one"
            )
        photos[path.stem] = path
    for name in photos:
        irregular.pop(name, None)
    return PhotoScan(photos, macbeth, irregular, tuple(problems))


def fingerprint(path: Path, *, whole: bool = False) -> str:
    """
    Return a content fingerprint of a file: ``"<size>:<sha256 hex>"``.

    Parameters
    ----------
    path
        A regular file.
    whole
        Hash the whole file; otherwise files above twice
        :data:`FINGERPRINT_CHUNK` are hashed on their first and last chunk.

    Raises
    ------
    DatasetError
        The file cannot be read or is not a regular file.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> fingerprint(path)
    '3:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    from ccharmony.io.files import open_regular

    digest = hashlib.sha256()
    with open_regular(path, what="an input file", error=DatasetError) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            if whole or size <= 2 * FINGERPRINT_CHUNK:
                for block in iter(lambda: handle.read(FINGERPRINT_CHUNK), b""):
                    digest.update(block)
            else:
                digest.update(handle.read(FINGERPRINT_CHUNK))
                handle.seek(size - FINGERPRINT_CHUNK)
                digest.update(handle.read(FINGERPRINT_CHUNK))
        except OSError as error:
            raise DatasetError(f"{path}: cannot read it ({error.strerror or error})") from None
    return f"{size}:{digest.hexdigest()}"


def _relative(path: Path, root: Path, prefix: str) -> str:
    try:
        return f"{prefix}/{path.relative_to(root).as_posix()}"
    except ValueError:
        return f"{prefix}/{path.as_posix()}"


def input_fingerprints(
    *,
    raw_dir: Path,
    photos: Iterable[Path],
    annotations_dir: Path,
    annotation_files: Iterable[Path],
) -> dict[str, str]:
    """
    Return ``{"raw_dir/<relative path>" | "annotations/<relative path>": fingerprint}`` of a build's inputs.

    Photos are fingerprinted on their ends (:func:`fingerprint`), annotation
    files whole. Keys are relative to the two folders, so the result does
    not depend on where the folders are.
    """
    result = {_relative(path, raw_dir, "raw_dir"): fingerprint(path) for path in photos}
    result.update({_relative(path, annotations_dir, "annotations"): fingerprint(path, whole=True)
                   for path in annotation_files})
    return dict(sorted(result.items()))


def describe_changes(before: Mapping[str, str], after: Mapping[str, str], *, limit: int = 3) -> str:
    """
    Say in a few words which files differ between two fingerprint maps.

    Examples
    --------
    >>> describe_changes({"raw_dir/a.dng": "1:x", "annotations/masks/a_a.png": "2:y"},
    ...                  {"raw_dir/a.dng": "1:z", "annotations/test_list.txt": "3:w"})
    'annotations/masks/a_a.png removed, annotations/test_list.txt added, raw_dir/a.dng changed'
    """
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            changes.append(f"{key} removed")
        elif key not in before:
            changes.append(f"{key} added")
        elif before[key] != after[key]:
            changes.append(f"{key} changed")
    shown = ", ".join(changes[:limit])
    if len(changes) > limit:
        shown += f" and {len(changes) - limit} more"
    return shown
