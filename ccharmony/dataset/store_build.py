"""
Builds on an object store
=========================

What ``ccharmony build`` needs when ``--out``, ``--raw-dir`` or
``--annotations`` is a store URL (:mod:`ccharmony.dataset.store`):

-   :class:`StoreWriter`: the builder's writer for a dataset on a store (the
    same operations as :class:`~ccharmony.dataset.writer.DatasetWriter`, in the
    same order, each file one PUT).
-   :func:`inspect_store`: ``new``, ``unfinished`` or ``finished``, refusing a
    prefix that holds anything else.
-   :func:`store_lock`: one build per dataset at a time, with a lease.
-   :func:`damaged_store_files`: a finished dataset's files against its manifest.
-   :class:`StoreInputs` and :func:`read_store_inputs`: the annotation set
    (mirrored to a local folder of the building process only, for its index)
    and the photos (listed, never downloaded by the building process), with
    their content fingerprints.

Atomicity without rename: a single PUT is atomic per object (a reader sees
the old object, none, or the whole new one), the content is written before
the records that list it, and the manifest is the last object of a build; a
reader trusts only what the manifest names. The build's journal (its
``state.json`` and per-image / per-foreground records) and the stage-A pixel
cache live under ``<out>/.ccharmony-build/`` on the store itself, where every
task of a cluster reaches them, so an interrupted build resumes from any
machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony.dataset.layout import BUILD_FILE, COMPOSITE_DIR, MANIFEST_FILE, MASK_DIR, REAL_DIR
from ccharmony.dataset.lock import LOCK_FILE
from ccharmony.dataset.output import CARD_DIR, STATE_DIR, STATE_FILE, OutputState
from ccharmony.dataset.store import join_url, read_manifest, store_filesystem
from ccharmony.dataset.writer import DatasetWriter, Payload, Stored
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "StoreWriter",
    "inspect_store",
    "store_lock",
    "LOCK_LEASE_S",
    "damaged_store_files",
    "StoreInputs",
    "read_store_inputs",
    "npy_bytes",
    "put_bytes",
]

LOCK_LEASE_S = 60.0
"""Seconds a store lock stays valid without renewal; its holder renews it every
third of that. A lock not renewed for this long (its build was killed) is taken over."""

_MANAGED = (REAL_DIR, MASK_DIR, COMPOSITE_DIR, CARD_DIR)


def npy_bytes(array: np.ndarray) -> bytes:
    """Return ``array`` as the bytes of a ``.npy`` file (what :func:`numpy.load` reads)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def put_bytes(fs: Any, path: str, data: bytes, *, url: str) -> Stored:
    """PUT ``data`` at ``path`` (one object, atomic on the store); return its :class:`Stored` record."""
    try:
        fs.pipe_file(path, data)
    except Exception as error:  # noqa: BLE001 - every store library raises its own types
        raise DatasetError(f"{url}: cannot write it ({_reason(error)})") from None
    return Stored(hashlib.sha256(data).hexdigest(), len(data))


def _invalidate(fs: Any, path: str) -> None:
    with contextlib.suppress(AttributeError, TypeError):
        fs.invalidate_cache(path)


def _listing(fs: Any, root: str) -> dict[str, int]:
    """Return ``{relative key: size}`` under ``root`` (fresh: the listing cache is dropped first)."""
    _invalidate(fs, root)
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        return {}
    files: dict[str, int] = {}
    for name, info in found.items():
        name = str(name).rstrip("/")
        if info.get("type", "file") != "file" or not name.startswith(root + "/"):
            continue
        files[name[len(root) + 1:]] = int(info.get("size") or 0)
    return files


class StoreWriter(DatasetWriter):
    """
    Write a dataset on an object store, in order, one PUT per file.

    Parameters
    ----------
    url
        The dataset's URL (``s3://bucket/ds``).

    Notes
    -----
    Relative paths only (a path with ``..`` or an absolute one is refused).
    A :class:`~ccharmony.dataset.writer.Stored` payload is a file a task put
    in place itself: only its hash is recorded. The writer keeps a listing of
    the dataset's keys (read once, then kept up to date by its own writes and
    the tasks' reports), so that the resume checks ask the store nothing.
    """

    def __init__(self, url: str, *, backlog_bytes: int = 64 << 20) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = store_filesystem(self.url)
        super().__init__(Path("/"), backlog_bytes=backlog_bytes)
        self.out = Path("/" + self.root)
        self.hashes: dict[str, str] = {}
        """Relative path -> sha256 of the files written (or reported) by this build."""
        self._files: dict[str, int] | None = None
        self._lock = threading.Lock()

    # --- keys -------------------------------------------------------------------

    def relative(self, path: str | Path) -> str:
        """Return the relative posix key of ``path`` (relative, or absolute under :attr:`out`)."""
        text = Path(path).as_posix()
        base = self.out.as_posix()
        if text.startswith(base + "/"):
            text = text[len(base) + 1:]
        parts = text.split("/")
        if text.startswith("/") or not text or any(part in ("", ".", "..") for part in parts):
            raise DatasetError(f"{path}: path leaves the dataset {self.url}; the builder writes only inside it")
        return text

    def target(self, relative: str | Path) -> Path:
        return self.out / self.relative(relative)

    def key(self, relative: str | Path) -> str:
        """Return the store path (no scheme) of a file of the dataset."""
        return f"{self.root}/{self.relative(relative)}"

    def describe(self, relative: str | Path) -> str:
        return join_url(self.url, self.relative(relative))

    # --- listing ----------------------------------------------------------------

    def refresh(self) -> dict[str, int]:
        """Read the listing of the dataset's keys again (one listing request per 1000 keys)."""
        files = _listing(self.fs, self.root)
        with self._lock:
            self._files = files
        return dict(files)

    def _known(self) -> dict[str, int]:
        if self._files is None:
            self.refresh()
        assert self._files is not None  # noqa: S101 - set by refresh
        return self._files

    def _note(self, relative: str, size: int | None) -> None:
        with self._lock:
            files = self._files
            if files is None:
                return
            if size is None:
                files.pop(relative, None)
            else:
                files[relative] = size

    # --- reading back -------------------------------------------------------------

    def exists(self, relative: str | Path) -> bool:
        self.wait_for([relative])
        return self.relative(relative) in self._known()

    def read_bytes(self, relative: str | Path) -> bytes:
        try:
            data = self.fs.cat_file(self.key(relative))
        except FileNotFoundError:
            raise DatasetError(f"{self.describe(relative)}: missing") from None
        except Exception as error:  # noqa: BLE001
            raise DatasetError(f"{self.describe(relative)}: cannot read it ({_reason(error)})") from None
        return bytes(data)

    def read_json(self, relative: str) -> Any:
        return json.loads(self.read_bytes(relative))

    def sha256(self, relative: str | Path) -> str:
        name = self.relative(relative)
        digest = self.hashes.get(name)
        return digest if digest is not None else hashlib.sha256(self.read_bytes(name)).hexdigest()

    def list_files(self, *, skip: Iterable[str] = ()) -> dict[str, int]:
        skipped = set(skip)
        return {name: size for name, size in sorted(self.refresh().items()) if name.split("/", 1)[0] not in skipped}

    def remove_tree(self, relative: str | Path) -> None:
        prefix = self.relative(relative)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(f"{self.root}/{prefix}", recursive=True)
        _invalidate(self.fs, self.root)
        with self._lock:
            if self._files is not None:
                for name in [n for n in self._files if n == prefix or n.startswith(prefix + "/")]:
                    del self._files[name]

    def remove_stale(self, produced: Iterable[str], *, lists: Iterable[str] = ()) -> list[str]:
        keep = set(produced)
        names = self.refresh()
        stale = [name for name in sorted(names) if name.split("/", 1)[0] in _MANAGED and name not in keep]
        stale += [name for name in lists if name not in keep and "/" not in name and name in names]
        for name in stale:
            self._write_now(self.target(name), None)
        return stale

    # --- writing ------------------------------------------------------------------

    def _write_now(self, path: Path, data: Payload) -> None:
        start = time.perf_counter()
        name = self.relative(path)
        key, shown = f"{self.root}/{name}", join_url(self.url, name)
        try:
            if data is None:
                try:
                    self.fs.rm_file(key)
                except FileNotFoundError:
                    pass
                except Exception as error:  # noqa: BLE001
                    raise DatasetError(f"{shown}: cannot delete it ({_reason(error)})") from None
                self.hashes.pop(name, None)
                self._note(name, None)
                return
            if isinstance(data, Stored):
                record = data
            elif isinstance(data, Path):  # a file staged on this machine
                record = put_bytes(self.fs, key, data.read_bytes(), url=shown)
                with contextlib.suppress(OSError):
                    data.unlink()
            elif isinstance(data, np.ndarray):
                record = put_bytes(self.fs, key, npy_bytes(data), url=shown)
            else:
                record = put_bytes(self.fs, key, bytes(data), url=shown)
            self.hashes[name] = record.sha256
            self._note(name, record.size)
        finally:
            self.seconds += time.perf_counter() - start


# --- what the prefix holds -------------------------------------------------------------


def _read_record(fs: Any, path: str) -> dict[str, Any]:
    try:
        data = json.loads(fs.cat_file(path))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def inspect_store(url: str, *, shown: object | None = None) -> OutputState:
    """
    Return what a dataset URL holds, refusing a prefix that is not a ccharmony build.

    ``finished``: its ``MANIFEST.json`` (or, damaged, only its ``build.json``)
    is there and no work folder; ``unfinished``: a build's ``state.json`` is
    there; ``new``: nothing is.

    Raises
    ------
    DatasetError
        The prefix holds other objects (left untouched).
    """
    shown = url if shown is None else shown
    fs, root = store_filesystem(url)
    _invalidate(fs, root)
    try:
        entries = {str(name).rstrip("/").rsplit("/", 1)[-1] for name in fs.ls(root, detail=False)}
    except FileNotFoundError:
        entries = set()
    entries.discard(LOCK_FILE)
    if not entries:
        return OutputState("new")
    if STATE_DIR in entries and fs.exists(f"{root}/{STATE_FILE}"):
        return OutputState("unfinished", _read_record(fs, f"{root}/{STATE_FILE}"))
    if BUILD_FILE in entries:
        return OutputState("finished", _read_record(fs, f"{root}/{BUILD_FILE}"))
    raise DatasetError(f"{shown}: holds objects but no ccharmony build; use another --out")


def damaged_store_files(writer: StoreWriter) -> list[str]:
    """
    Return the files of a finished dataset on a store that are missing or changed, one line each.

    Checked against ``MANIFEST.json`` by the listing's sizes (reading every
    object back would cost a download of the dataset); a missing manifest is
    damage itself.
    """
    try:
        manifest = read_manifest(writer.read_bytes(MANIFEST_FILE), where=writer.describe(MANIFEST_FILE))
    except DatasetError as error:
        return [str(error).removeprefix(writer.url + "/")]
    listing = writer.refresh()
    problems = [f"{manifest.record} is missing" for _ in [0] if manifest.record and manifest.record not in listing]
    for name, (_, size) in sorted(manifest.files.items()):
        if name not in listing:
            problems.append(f"{name} is missing")
        elif listing[name] != size:
            problems.append(f"{name} has changed since the build ({listing[name]} bytes, {size} recorded)")
    return problems


# --- the lock ----------------------------------------------------------------------------


def _create(fs: Any, path: str, data: bytes) -> bool:
    """PUT ``data`` only if ``path`` does not exist; return whether it was created."""
    try:
        fs.pipe_file(path, data, mode="create")
    except FileExistsError:
        return False
    except TypeError:  # a file system without conditional writes: best effort
        _invalidate(fs, path)
        if fs.exists(path):
            return False
        fs.pipe_file(path, data)
    return True


@contextlib.contextmanager
def store_lock(url: str, *, shown: object | None = None, lease_s: float | None = None) -> Iterator[str]:
    """
    Hold the build lock of a dataset on a store for a ``with`` block.

    The lock is the object ``<url>/.ccharmony-build.lock``, created with a
    conditional PUT (``If-None-Match: *``: exactly one of two builds that start
    together gets it) and renewed by a thread every third of the lease
    (:data:`LOCK_LEASE_S`). A killed build leaves its lock behind; once it has
    not been renewed for a lease, the next build takes it over. (The lease is
    compared with this machine's clock: clocks of cluster machines are
    assumed to agree within seconds, as NTP keeps them.)

    Yields
    ------
    str
        The lock's URL; the object is deleted when the block ends.

    Raises
    ------
    DatasetError
        Another build holds a live lock (one line: who, and when it was last renewed).
    """
    lease = LOCK_LEASE_S if lease_s is None else float(lease_s)
    shown = url if shown is None else shown
    fs, root = store_filesystem(url)
    path = f"{root}/{LOCK_FILE}"
    owner = uuid.uuid4().hex

    def body() -> bytes:
        return json.dumps({"owner": owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "renewed": time.time(), "lease_s": lease}).encode()

    for _ in range(3):
        if _create(fs, path, body()):
            break
        held = _read_record(fs, path)
        renewed = held.get("renewed")
        age = time.time() - float(renewed) if isinstance(renewed, (int, float)) else lease + 1.0
        if age <= float(held.get("lease_s") or lease):
            raise DatasetError(
                f"{shown}: another ccharmony build holds this dataset (lock {LOCK_FILE}: {held.get('host', '?')} "
                f"pid {held.get('pid', '?')}, renewed {max(age, 0.0):.0f} s ago); wait for it to finish, or use "
                f"another --out (a lock not renewed for {lease:.0f} s is taken over)")
        with contextlib.suppress(FileNotFoundError):  # its build stopped renewing it: stale
            fs.rm_file(path)
    else:  # pragma: no cover - needs other builds to take the lock three times in a row
        raise DatasetError(f"{shown}: cannot take the build lock {LOCK_FILE}; try again")
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease / 3):
            if _read_record(fs, path).get("owner") != owner:
                return  # taken over (this build was presumed dead): stop renewing someone else's lock
            with contextlib.suppress(Exception):
                fs.pipe_file(path, body())

    thread = threading.Thread(target=renew, name="ccharmony-store-lock", daemon=True)
    thread.start()
    try:
        yield join_url(url, LOCK_FILE)
    finally:
        stop.set()
        thread.join()
        if _read_record(fs, path).get("owner") == owner:
            with contextlib.suppress(Exception):
                fs.rm_file(path)


# --- inputs --------------------------------------------------------------------------------


@dataclass
class StoreInputs:
    """
    The inputs of a build, some of them on a store.

    Parameters
    ----------
    urls
        ``str(path)`` of an input as the annotation set and the photo scan
        name it (a path of the local annotation mirror, or a store path) ->
        its URL: what a task downloads itself.
    shown
        Local prefix -> URL prefix, to name files by URL in messages.
    """

    urls: dict[str, str] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)
    mirror: tempfile.TemporaryDirectory[str] | None = None

    def name(self, text: str) -> str:
        """Replace local mirror paths in a message by their URLs."""
        for local, url in self.shown.items():
            text = text.replace(local, url)
        return text


def mirror_annotations(url: str, into: Path) -> None:
    """
    Copy an annotation set from a store into a local folder (the building process's own index).

    Raises
    ------
    DatasetError
        No object under ``url``.
    """
    fs, root = store_filesystem(url)
    files = _listing(fs, root)
    if not files:
        raise DatasetError(
            f"{url}: annotation set not found; pass --annotations URL (masks/<image>_<fg>.png and optional "
            "patch_colors/, checkers/, crops/, lists)")
    names = sorted(files)
    targets = [str(into / name) for name in names]
    for target in targets:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        fs.get([f"{root}/{name}" for name in names], targets)
    except Exception as error:  # noqa: BLE001
        raise DatasetError(f"{url}: cannot read the annotation set ({_reason(error)})") from None


def read_store_inputs(raw_url: str | None, annotations_url: str | None) -> tuple[Path | None, Path | None, StoreInputs]:
    """
    Mirror an annotation set on a store; return the local folders to index and the URL map.

    Returns
    -------
    raw_dir, annotations_dir, inputs
        ``annotations_dir`` is the local mirror when ``annotations_url`` is a
        URL (it lives as long as ``inputs.mirror``); ``raw_dir`` is ``None``
        when the photos are on a store (listed by :func:`scan_store_photos`).
    """
    inputs = StoreInputs()
    annotations_dir = None
    if annotations_url is not None:
        inputs.mirror = tempfile.TemporaryDirectory(prefix="ccharmony-annotations-")
        annotations_dir = Path(inputs.mirror.name)
        mirror_annotations(annotations_url, annotations_dir)
        for name in _listing(*store_filesystem(annotations_url)):
            inputs.urls[str(annotations_dir / name)] = join_url(annotations_url, name)
        inputs.shown[str(annotations_dir)] = annotations_url.rstrip("/")
    return None, annotations_dir, inputs


def scan_store_photos(url: str, wanted: Iterable[str], *, exclude: Iterable[str] = ()):  # noqa: ANN201
    """
    Find the photo of each wanted image name under a store prefix (any depth).

    The rules of :func:`ccharmony.dataset.inputs.scan_photos`: hidden names and
    side-car suffixes are skipped, ``<name>_macbeth.txt`` files are chart
    coordinates, two photos of one image are an error, and prefixes in
    ``exclude`` (the build's own output) or holding a ccharmony dataset are
    not searched.

    Returns
    -------
    PhotoScan, sizes
        Photos as store paths (no scheme), and each one's size in bytes.
    """
    from ccharmony.dataset.inputs import IGNORED_SUFFIXES, PhotoScan

    fs, root = store_filesystem(url)
    listing = _listing(fs, root)
    if not listing:
        raise DatasetError(f"{url}: --raw-dir holds no object (check the URL and the credentials)")
    wanted = set(wanted)
    skip = [prefix.rstrip("/") + "/" for prefix in exclude]
    datasets = {name.rsplit("/", 2)[0] + "/" for name in listing
                if name.endswith(f"/{MANIFEST_FILE}") or f"/{STATE_DIR}/" in f"/{name}"}
    problems = [f"{join_url(url, prefix.rstrip('/'))}: a ccharmony dataset inside --raw-dir, not searched for photos"
                for prefix in sorted(datasets) if not any(f"{root}/{prefix}".startswith(s) for s in skip)]
    photos: dict[str, Path] = {}
    macbeth: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    for name in sorted(listing):
        full = f"{root}/{name}"
        if any(full.startswith(s) for s in skip) or any(name.startswith(d) for d in datasets):
            continue
        base = name.rsplit("/", 1)[-1]
        if base.startswith("."):
            continue
        if base.endswith("_macbeth.txt"):
            stem = base[: -len("_macbeth.txt")]
            if stem in wanted:
                macbeth[stem] = Path(full)
            continue
        stem, dot, suffix = base.rpartition(".")
        if not dot:
            stem, suffix = base, ""
        if f".{suffix.lower()}" in IGNORED_SUFFIXES or stem not in wanted:
            continue
        if stem in photos:
            raise DatasetError(f"{join_url(url, name)}: duplicate photo for image {stem!r} (also "
                               f"{photos[stem]}); keep one")
        photos[stem] = Path(full)
        sizes[full] = listing[name]
    return PhotoScan(photos, macbeth, {}, tuple(problems)), sizes


def store_fingerprint(fs: Any, path: str, size: int, *, whole: bool = False) -> str:
    """The fingerprint of :func:`ccharmony.dataset.inputs.fingerprint`, from ranged reads of an object."""
    from ccharmony.dataset.inputs import FINGERPRINT_CHUNK

    digest = hashlib.sha256()
    try:
        if whole or size <= 2 * FINGERPRINT_CHUNK:
            digest.update(fs.cat_file(path))
        else:
            digest.update(fs.cat_file(path, start=0, end=FINGERPRINT_CHUNK))
            digest.update(fs.cat_file(path, start=size - FINGERPRINT_CHUNK, end=size))
    except Exception as error:  # noqa: BLE001
        raise DatasetError(f"{path}: cannot read it ({_reason(error)})") from None
    return f"{size}:{digest.hexdigest()}"
