"""
Object-store locations
======================

Datasets and build inputs on an object store (``s3://``, ``gs://`` and any
other `fsspec <https://filesystem-spec.readthedocs.io>`_ protocol), beside
local folders, which keep working exactly as before and never import fsspec:

-   :func:`is_url`: whether a ``--raw-dir``/``--annotations``/``--out`` value
    names a store (``scheme://...``) rather than a local path.
-   :func:`store_filesystem`: the fsspec file system and path of a URL, with a
    one-line error naming the extra to install.
-   :func:`manifest_bytes`, :func:`read_manifest`: ``MANIFEST.json``, the list
    of every file of a finished dataset with its sha256 and size, written last.
-   :func:`open_dataset_location`: a context manager that gives a local folder
    for a dataset given as a local path (itself) or a store URL (the files the
    manifest names, mirrored through a content-addressed cache and checked).

A store has no rename, so a dataset on a store is finished when, and only
when, its manifest exists: ``ccharmony build`` writes the content first, then
the lists, metadata and card, ``build.json`` and the manifest last, and a
reader trusts only the files the manifest names (a file the manifest does not
name, from an unfinished or a concurrent build, is never read; a named file
whose bytes differ is refused).

Credentials and endpoints come from the store library's own configuration:
for S3 (``pip install "ccharmony[s3]"``, s3fs) the standard AWS variables and
files (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``
for an S3-compatible server such as MinIO or Ceph), for Google Cloud Storage
(``pip install "ccharmony[gcs]"``, gcsfs) the application default
credentials; fsspec's ``FSSPEC_<PROTOCOL>_<OPTION>`` variables pass any other
option.

References
----------
-   :cite:`Aizman2019` : Aizman, A., Maltby, G., & Breuel, T. (2019). High
    Performance I/O For Large Scale Deep Learning. IEEE International
    Conference on Big Data, 5965-5967. doi:10.1109/BigData47090.2019.9005703
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ccharmony.errors import ConfigError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "is_url",
    "join_url",
    "store_filesystem",
    "STORE_EXTRAS",
    "MANIFEST_FORMAT",
    "manifest_bytes",
    "Manifest",
    "read_manifest",
    "check_relative_key",
    "default_cache_dir",
    "open_dataset_location",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

STORE_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
"""URL scheme -> the ccharmony extra that installs its fsspec file system."""

MANIFEST_FORMAT = "ccharmony-dataset"
"""``format`` of ``MANIFEST.json``."""

_MANIFEST_VERSION = 1


def is_url(location: object) -> bool:
    """
    Return whether ``location`` names an object store (``scheme://...``, not ``file://``).

    Examples
    --------
    >>> is_url("s3://bucket/photos"), is_url("photos"), is_url(Path("/data")), is_url("file:///data")
    (True, False, False, False)
    """
    if not isinstance(location, str):
        return False
    match = _SCHEME.match(location)
    return match is not None and match.group(1).lower() not in ("file", "local")


def local_path(location: str | os.PathLike[str]) -> Path:
    """
    Return a local location as a :class:`~pathlib.Path` (``file://`` stripped).

    >>> local_path("file:///data/photos")
    PosixPath('/data/photos')
    """
    text = os.fspath(location)
    return Path(text[len("file://"):]) if text.startswith("file://") else Path(text)


def join_url(url: str, relative: str) -> str:
    """
    Join a relative posix path to a store URL.

    >>> join_url("s3://bucket/ds/", "masks/a_b.png")
    's3://bucket/ds/masks/a_b.png'
    """
    return url.rstrip("/") + "/" + relative.lstrip("/")


def store_filesystem(url: str) -> tuple[Any, str]:
    """
    Return the fsspec file system of a store URL and the path on it.

    Parameters
    ----------
    url
        ``s3://bucket/prefix``, ``gs://bucket/prefix`` or another fsspec URL.

    Returns
    -------
    fs, path
        ``path`` without the scheme and without a trailing ``/``.

    Raises
    ------
    ConfigError
        fsspec, or the store's file system package, is not installed (the
        message names the extra), or the URL names no bucket.
    """
    scheme = url.split("://", 1)[0].lower()
    extra = STORE_EXTRAS.get(scheme)
    hint = f'pip install "ccharmony[{extra}]"' if extra else "install the fsspec file system of that protocol"
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise ConfigError(f"{url}: object-store locations need fsspec; {hint}") from None
    try:
        fs, path = url_to_fs(url)
    except ImportError:
        raise ConfigError(f"{url}: the {scheme}:// file system is not installed; {hint}") from None
    except ValueError as error:
        raise ConfigError(f"{url}: not a usable store URL ({error})") from None
    path = str(path).rstrip("/")
    if not path:
        raise ConfigError(f"{url}: give a bucket (and optionally a prefix), e.g. {scheme}://bucket/dataset")
    return fs, path


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_relative_key(key: object, *, where: str) -> str:
    """
    Return ``key`` if it is a plain relative posix path inside its dataset, else raise.

    A manifest is data: a name in it never takes a read or a write outside the
    dataset (house rule 17).

    Raises
    ------
    DatasetError
        An absolute path, ``..``, a backslash, an empty component or a control character.

    Examples
    --------
    >>> check_relative_key("masks/a_b.png", where="MANIFEST.json")
    'masks/a_b.png'
    >>> check_relative_key("../x", where="MANIFEST.json")
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: MANIFEST.json: names '../x', not a path inside the dataset; ...
    """
    parts = key.split("/") if isinstance(key, str) else []
    if (not isinstance(key, str) or not key or key.startswith("/") or "\\" in key or _CONTROL.search(key)
            or any(part in ("", ".", "..") for part in parts) or _SCHEME.match(key)):
        raise DatasetError(f"{where}: names {key!r}, not a path inside the dataset; the manifest is damaged "
                           "or was not written by ccharmony")
    return key


def manifest_bytes(files: Mapping[str, tuple[str, int]], *, record: str | None = None) -> bytes:
    """
    Return the bytes of ``MANIFEST.json`` for ``{relative path: (sha256 hex, size in bytes)}``.

    Parameters
    ----------
    files
        Every file of the dataset but the manifest and the build record.
    record
        The build record (``build.json``): named, not hashed, since its
        timings differ between two builds of the same inputs; so the manifest
        of two such builds is the same bytes, a name for the dataset's content.

    Examples
    --------
    >>> print(manifest_bytes({"b.txt": ("ab" * 32, 3)}, record="build.json").decode(), end="")
    {"format": "ccharmony-dataset", "version": 1, "record": "build.json", "files": {
    "b.txt": {"sha256": "abab...", "size": 3}
    }}
    """
    lines = [json.dumps(key) + ": " + json.dumps({"sha256": digest, "size": int(size)})
             for key, (digest, size) in sorted(files.items())]
    head: dict[str, Any] = {"format": MANIFEST_FORMAT, "version": _MANIFEST_VERSION}
    if record is not None:
        head["record"] = record
    return (json.dumps(head)[:-1] + ', "files": {\n' + ",\n".join(lines) + "\n}}\n").encode()


class Manifest(NamedTuple):
    """A parsed ``MANIFEST.json``: ``files`` ``{relative path: (sha256, size)}`` and the build ``record``'s name."""

    files: dict[str, tuple[str, int]]
    record: str | None


def read_manifest(data: bytes, *, where: str) -> Manifest:
    """
    Parse ``MANIFEST.json``.

    Raises
    ------
    DatasetError
        Not JSON, another format or version, or an entry that is not a
        relative path with a sha256 and a size (one line naming ``where``).
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise DatasetError(f"{where}: not a readable manifest ({type(error).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise DatasetError(f"{where}: not a ccharmony dataset manifest (format {MANIFEST_FORMAT!r} expected)")
    if document.get("version") != _MANIFEST_VERSION:
        raise DatasetError(f"{where}: manifest version {document.get('version')!r}, this ccharmony reads "
                           f"version {_MANIFEST_VERSION}; upgrade ccharmony")
    files = document.get("files")
    if not isinstance(files, dict):
        raise DatasetError(f"{where}: the manifest has no files table")
    result: dict[str, tuple[str, int]] = {}
    for key, entry in files.items():
        check_relative_key(key, where=where)
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if (not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest)
                or isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise DatasetError(f"{where}: entry {key!r} needs a sha256 (64 hex digits) and a size in bytes")
        result[key] = (digest, size)
    record = document.get("record")
    if record is not None:
        record = check_relative_key(record, where=where)
    return Manifest(result, record)


def default_cache_dir() -> Path:
    """
    Return the content-addressed cache of store readers.

    ``$CCHARMONY_CACHE_DIR/store`` when set, else ``$XDG_CACHE_HOME/ccharmony/store``
    (``~/.cache/ccharmony/store``).
    """
    base = os.environ.get("CCHARMONY_CACHE_DIR")
    if base:
        return Path(base) / "store"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ccharmony" / "store"


def _object_path(cache: Path, digest: str) -> Path:
    return cache / "sha256" / digest[:2] / digest


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_objects(fs: Any, root: str, url: str, files: Mapping[str, tuple[str, int]], cache: Path) -> None:
    """Download every file of ``files`` not yet in ``cache``, checking size and sha256 before keeping it."""
    wanted: dict[str, str] = {}  # digest -> one relative path holding it
    for relative, (digest, _) in sorted(files.items()):
        if not _object_path(cache, digest).is_file():
            wanted.setdefault(digest, relative)
    if not wanted:
        return
    incoming = cache / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=incoming) as scratch:
        items = sorted(wanted.items(), key=lambda item: item[1])
        for start in range(0, len(items), 256):  # bounded batches: fsspec fetches each batch concurrently
            batch = items[start:start + 256]
            remote = [f"{root}/{relative}" for _, relative in batch]
            local = [os.path.join(scratch, str(index)) for index in range(len(batch))]
            try:
                fs.get(remote, local)
            except FileNotFoundError as error:
                missing = next((r for r, l in zip(remote, local) if not os.path.exists(l)), str(error))
                relative = missing[len(root) + 1:] if missing.startswith(root + "/") else missing
                raise DatasetError(f"{join_url(url, relative)}: named by MANIFEST.json but missing on the store; "
                                   "the dataset is damaged (build it again with --rebuild)") from None
            for (digest, relative), path in zip(batch, local):
                size = os.path.getsize(path)
                if size != files[relative][1] or _sha256_file(Path(path)) != digest:
                    raise DatasetError(
                        f"{join_url(url, relative)}: its bytes differ from MANIFEST.json "
                        f"({size} bytes, {files[relative][1]} recorded); the dataset on the store is damaged or "
                        "being rewritten by another build")
                target = _object_path(cache, digest)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(path, 0o444)  # the mirror links to it: nothing may write through a link
                os.replace(path, target)


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copyfile(source, target)


@contextlib.contextmanager
def open_dataset_location(
    location: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None
) -> Iterator[Path]:
    """
    Give a local folder holding the dataset at ``location`` for a ``with`` block.

    Parameters
    ----------
    location
        A local dataset folder (yielded as it is: nothing is copied and fsspec
        is not imported), or a store URL of a dataset ``ccharmony build``
        wrote (``s3://bucket/ds``).
    cache_dir
        The content-addressed cache of downloaded files (default
        :func:`default_cache_dir`); a file already there (same sha256) is not
        downloaded again, so a second ``verify`` or a ``benchmark`` after a
        ``verify`` downloads nothing.

    Yields
    ------
    pathlib.Path
        The folder. For a URL, a temporary folder of hard links into the
        cache (copies across file systems) with exactly the files that
        ``MANIFEST.json`` names (and the build record it names, ``build.json``,
        downloaded as it is), removed when the block ends.

    Raises
    ------
    DatasetError
        The URL holds no ``MANIFEST.json`` (no dataset, or a build that has not
        finished: its files are never read), the manifest is malformed, or a
        file it names is missing or has other bytes.
    ConfigError
        The store's file system is not installed.

    Notes
    -----
    Why a mirror and not readers that stream from the store: every reader of
    a dataset (``verify``, ``benchmark``, ``export``, ``report``, and the
    peers' own loaders) reads local files with OpenCV, PIL, pandas and
    ``os``, decodes each image more than once, and trusts the folder; a
    mirror keeps all of them unchanged, checks every byte against the
    manifest once, and is reused across runs. The cost is local disk about
    the size of the dataset (once, in the cache).

    Examples
    --------
    >>> with open_dataset_location("/data/ds") as folder:
    ...     folder
    PosixPath('/data/ds')
    """
    if not is_url(location):
        yield local_path(location)
        return
    url = str(location).rstrip("/")
    fs, root = store_filesystem(url)
    from ccharmony.dataset.layout import MANIFEST_FILE

    where = join_url(url, MANIFEST_FILE)
    with contextlib.suppress(AttributeError):
        fs.invalidate_cache(root)
    try:
        data = fs.cat_file(f"{root}/{MANIFEST_FILE}")
    except FileNotFoundError:
        raise DatasetError(f"{url}: no {MANIFEST_FILE}, so no finished ccharmony dataset is there (a build that "
                           "has not finished writes it last); check the URL or finish the build") from None
    except OSError as error:
        raise DatasetError(f"{where}: cannot read it ({error})") from None
    manifest = read_manifest(data, where=where)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    _fetch_objects(fs, root, url, manifest.files, cache)
    folder = Path(tempfile.mkdtemp(prefix="ccharmony-dataset-"))
    try:
        for relative, (digest, _) in sorted(manifest.files.items()):
            _place(_object_path(cache, digest), folder / relative)
        if manifest.record is not None:  # written before the manifest; not content, so not hashed
            try:
                (folder / manifest.record).write_bytes(fs.cat_file(f"{root}/{manifest.record}"))
            except FileNotFoundError:
                raise DatasetError(f"{join_url(url, manifest.record)}: named by {MANIFEST_FILE} but missing; "
                                   "the dataset is damaged") from None
        (folder / MANIFEST_FILE).write_bytes(data)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
