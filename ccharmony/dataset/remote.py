"""
Stage tasks that read and write an object store
===============================================

The build stages (:mod:`ccharmony.dataset.stages`) as a cluster node runs
them when the inputs or the dataset are on an object store and the nodes
share no disk:

-   :class:`RemoteImageTask`, :func:`prepare_remote`: stage A. The task
    downloads its own inputs (photo, masks, patch colours, corners, crop)
    from the store into a folder of its own, runs :func:`prepare_image` on
    them, and, for a dataset on a store, puts the real image and masks at
    their final keys and its pixel cache under ``<out>/.ccharmony-build/cache/``
    itself, returning only hashes (:class:`~ccharmony.dataset.writer.Stored`).
-   :class:`RemoteCompositeTask`, :func:`composites_remote`: stage B. The task
    downloads the cache of its source image from the store, runs
    :func:`make_composites` and puts the composites at their final keys.

The task's own folder is a temporary folder on the node running it, removed
when the task ends: nothing another node needs is ever on a node's disk, so
any task can run on any node, and a resumed build finds the cache on the
store. Messages name inputs by their URL, never by the temporary copy.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.output import STATE_DIR
from ccharmony.dataset.stages import (
    CompositeTask,
    ImageTask,
    PreparedImage,
    Skip,
    cache_files_of_task,
    make_composites,
    prepare_image,
)
from ccharmony.dataset.store import join_url, store_filesystem
from ccharmony.dataset.store_build import npy_bytes, put_bytes
from ccharmony.dataset.writer import Stored
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["CACHE_DIR", "RemoteImageTask", "RemoteCompositeTask", "prepare_remote", "composites_remote"]

CACHE_DIR = Path(STATE_DIR) / "cache"
"""The stage-A cache of a dataset on a store, relative to the dataset (on the store)."""


@dataclass(frozen=True)
class RemoteImageTask:
    """
    Stage A for one image whose inputs may be on a store (picklable).

    Parameters
    ----------
    task
        The image's :class:`ImageTask`; its input paths that are keys of
        ``urls`` are downloaded first.
    urls
        ``(str(path), URL)`` of the inputs on a store.
    out
        The dataset's URL when it is on a store (the task writes its files and
        cache there), else ``None`` (files travel back as ``task`` says).
    """

    task: ImageTask
    urls: tuple[tuple[str, str], ...] = ()
    out: str | None = None


@dataclass(frozen=True)
class RemoteCompositeTask:
    """Stage B for one source image of a dataset on a store (picklable): ``task`` and the dataset's URL."""

    task: CompositeTask
    out: str


def _download(url: str, local: Path) -> None:
    fs, path = store_filesystem(url)
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        fs.get_file(path, str(local))
    except FileNotFoundError:
        raise DatasetError(f"{url}: missing on the store (it was listed when the build started)") from None
    except Exception as error:  # noqa: BLE001 - every store library raises its own types
        raise DatasetError(f"{url}: cannot read it ({type(error).__name__}: {error})") from None


def _localise(task: ImageTask, urls: dict[str, str], folder: Path) -> tuple[ImageTask, dict[str, str]]:
    """Download ``task``'s store inputs into ``folder``; return the local task and local path -> URL."""
    shown: dict[str, str] = {}

    def local(path: Path | None) -> Path | None:
        if path is None or str(path) not in urls:
            return path
        target = folder / str(len(shown)) / path.name
        _download(urls[str(path)], target)
        shown[str(target)] = urls[str(path)]
        return target

    changes: dict[str, Any] = {name: local(getattr(task, name))
                               for name in ("photo", "patch_colors", "checker", "macbeth", "crop")}
    changes["masks"] = tuple((letter, local(path)) for letter, path in task.masks)
    return dataclasses.replace(task, **changes), shown


def _named(text: str, shown: dict[str, str]) -> str:
    # Longest first: ".../10/x" before ".../1/x".
    for local, url in sorted(shown.items(), key=lambda item: -len(item[0])):
        text = text.replace(local, url)
    return text


def prepare_remote(args: tuple[RemoteImageTask, Pipeline]) -> PreparedImage | Skip:
    """
    Run stage A of a :class:`RemoteImageTask` (see the module docstring).

    Returns
    -------
    PreparedImage or Skip
        As :func:`ccharmony.dataset.stages.prepare_image`; for a dataset on a
        store, ``files`` holds :class:`Stored` records of the real image, the
        masks and the cache files, all already on the store.
    """
    remote, pipeline = args
    with tempfile.TemporaryDirectory(prefix="ccharmony-task-") as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        try:
            task, shown = _localise(remote.task, dict(remote.urls), folder / "inputs")
        except DatasetError as error:
            return Skip(remote.task.image, str(error))
        fetched = time.perf_counter() - start
        if remote.out is not None:
            task = dataclasses.replace(task, cache_dir=folder / "cache", stage_dir=None, cache_in_memory=True)
        result = prepare_image(task, pipeline)
        if isinstance(result, Skip):
            return Skip(result.image, _named(result.reason, shown))
        result.timings["fetch"] = result.timings.get("fetch", 0.0) + fetched
        if remote.out is None:
            return result
        start = time.perf_counter()
        fs, root = store_filesystem(remote.out)
        files: dict[str, bytes | Path | Stored] = {}
        for relative, data in sorted(result.files.items()):
            if not isinstance(data, bytes):  # pragma: no cover - stage_dir is None above
                raise DatasetError(f"{relative}: expected the file's bytes from stage A")
            files[relative] = put_bytes(fs, f"{root}/{relative}", data, url=join_url(remote.out, relative))
        for path, array in sorted(result.cache.items()):
            relative = (CACHE_DIR / path.name).as_posix()
            files[relative] = put_bytes(fs, f"{root}/{relative}", npy_bytes(array), url=join_url(remote.out, relative))
        result.files, result.cache = files, {}
        result.timings["upload"] = result.timings.get("upload", 0.0) + time.perf_counter() - start
        return result


def composites_remote(args: tuple[RemoteCompositeTask, Pipeline]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, float]]:
    """
    Run stage B of a :class:`RemoteCompositeTask` (see the module docstring).

    Returns
    -------
    rows, files, timings
        As :func:`ccharmony.dataset.stages.make_composites`, with ``files``
        holding :class:`Stored` records of the composites already on the store.
    """
    remote, pipeline = args
    fs, root = store_filesystem(remote.out)
    with tempfile.TemporaryDirectory(prefix="ccharmony-task-") as scratch:
        cache = Path(scratch) / "cache"
        start = time.perf_counter()
        needed = cache_files_of_task(dataclasses.replace(remote.task, cache_dir=CACHE_DIR), pipeline)
        for path in needed:
            _download(join_url(remote.out, path.as_posix()), cache / path.name)
        fetched = time.perf_counter() - start
        rows, produced, timings = make_composites(
            dataclasses.replace(remote.task, cache_dir=cache, stage_dir=None), pipeline)
        start = time.perf_counter()
        files: dict[str, Any] = {}
        for relative, data in sorted(produced.items()):
            if not isinstance(data, bytes):  # pragma: no cover - stage_dir is None above
                raise DatasetError(f"{relative}: expected the file's bytes from stage B")
            files[relative] = put_bytes(fs, f"{root}/{relative}", data, url=join_url(remote.out, relative))
        del produced
        timings["fetch"] = timings.get("fetch", 0.0) + fetched
        timings["upload"] = timings.get("upload", 0.0) + time.perf_counter() - start
        return rows, files, timings
