"""
Annotation session
==================

Define the state of one ``ccharmony annotate`` run and every change it can
make; the web server (:mod:`ccharmony.annotate.server`) only parses requests
and calls these methods.

-   :class:`AnnotateOptions`: the folders, pipeline, seed and ingest options.
-   :class:`Session`: the photos, their charts, foregrounds and splits; each
    change is written to the annotation set at once
    (:class:`~ccharmony.annotate.store.AnnotationStore`), and an undo / redo
    history per photo.

What is written (ARCHITECTURE.md section 5, read as is by ``ccharmony build``):

-   ``masks/<image>_<fg>.png``: 8-bit grey PNG, 0 / 255, at the full size of
    the photo (``build`` cuts the chart away with the crop shown in the tool:
    ``crops/<image>.json`` when the set has one, else the crop computed from
    the chart with the pipeline's ``crop_margin``). An emptied mask is deleted.
-   ``checkers/<image>.json``: ``{"corners": [[x, y] x 4]}`` once the chart has
    been corrected or placed by hand (section 4 corner order).
-   ``train_list.txt``, ``test_list.txt``: every foreground of every photo
    with a mask, by the photo's split.

The tool's own files live in ``<annotations>/.annotate/`` (display cache,
split overrides of photos without masks): deleting it loses nothing of the
annotation set.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ccharmony import __version__
from ccharmony.annotate import masks as mask_ops
from ccharmony.annotate import photos as views
from ccharmony.annotate.split import SPLITS, suggest_splits
from ccharmony.annotate.store import (
    AnnotateError,
    AnnotationStore,
    NotFoundError,
    PathRefusedError,
    file_version,
    index_photos,
)
from ccharmony.errors import CCHarmonyError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["AnnotateOptions", "Session", "FOREGROUND_PATTERN"]

LOGGER = logging.getLogger(__name__)

FOREGROUND_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,7}$")
"""Foreground letters the tool creates and accepts (``a``, ``b``, ... ``z``, ``aa``, ...)."""

_TOOL_DIR = ".annotate"
_LISTS = {"train": "train_list.txt", "test": "test_list.txt"}
_HISTORY = 100


@dataclass(frozen=True)
class AnnotateOptions:
    """
    Configure an annotation session.

    Parameters
    ----------
    raw_dir
        Folder of photos (searched recursively, as ``ccharmony build`` does).
    annotations
        Annotation set folder (created when missing).
    pipeline
        :class:`ccharmony.dataset.config.Pipeline` whose detection size, crop
        margin and test fraction the tool uses; the shipped ``ccharmony`` one
        by default.
    seed
        Seed of the suggested split.
    ingest
        :class:`ccharmony.io.IngestOptions` or ``None``.
    background
        Process every photo (read, detect, render the display copy) in a
        background thread, so the list shows each photo's chart state.
    memory_images
        Photos kept decoded in memory (each about 15 bytes per pixel).
    work_side
        Longest side of GrabCut's reduced copy
        (:data:`ccharmony.annotate.masks.WORK_SIDE`).
    """

    raw_dir: Path
    annotations: Path
    pipeline: Any = None
    seed: int = 0
    ingest: Any = None
    background: bool = True
    memory_images: int = 2
    work_side: int = mask_ops.WORK_SIDE

    def __post_init__(self) -> None:
        if self.pipeline is None:
            from ccharmony.dataset.config import builtin_pipeline

            object.__setattr__(self, "pipeline", builtin_pipeline("ccharmony"))
        if int(self.memory_images) < 1:
            raise AnnotateError(f"memory_images must be >= 1, got {self.memory_images!r}")


@dataclass
class _Loaded:
    """One photo decoded in memory."""

    linear: Any
    render_key: str = ""
    levels: list[np.ndarray] = field(default_factory=list)  # level 0 = full render, BGR


@dataclass
class _Foreground:
    data: bytes | None = None  # the PNG as on disk, None while nothing is saved
    mask: np.ndarray | None = None  # full-frame bool, decoded lazily
    readonly: str | None = None  # why it cannot be edited
    outline: list[Any] | None = None
    strokes: list[mask_ops.Stroke] = field(default_factory=list)
    proposal: np.ndarray | None = None


@dataclass
class _ImageState:
    """Annotations of one photo as loaded from (and saved to) the annotation set."""

    corners_data: bytes | None
    corners: list[list[float]] | None
    corners_problem: str | None
    crop_file: dict[str, int] | None
    foregrounds: dict[str, _Foreground]
    history: list[tuple[str, str, bytes | None, bytes | None]] = field(default_factory=list)
    position: int = 0  # entries before it are done, after it undone


def _render_key(render: dict[str, Any]) -> str:
    return (file_version(json.dumps(render, sort_keys=True).encode()) or "")[:16]


def _corners_bytes(corners: list[list[float]]) -> bytes:
    return (json.dumps({"corners": [[round(float(x), 3), round(float(y), 3)] for x, y in corners]}) + "\n").encode()


class Session:
    """
    Hold the photos and annotations of one ``ccharmony annotate`` run.

    Parameters
    ----------
    options
        :class:`AnnotateOptions`.

    Raises
    ------
    AnnotateError
        When the raw folder is missing.
    """

    def __init__(self, options: AnnotateOptions) -> None:
        self.options = options
        raw = Path(options.raw_dir)
        if not raw.is_dir():
            raise AnnotateError(f"{raw}: --raw-dir is not a folder")
        self.raw_root = raw.resolve()
        self.store = AnnotationStore(Path(options.annotations))
        self.pipeline = options.pipeline
        self._lock = threading.RLock()  # lists, overrides, infos
        self._image_locks: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self._load_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._infos: dict[str, dict[str, Any]] = {}
        self._errors: dict[str, str] = {}
        self._states: dict[str, _ImageState] = {}
        self._stats: dict[tuple[str, str, str | None], tuple[int, int, int]] = {}
        self.cache_dir = self.store.path(f"{_TOOL_DIR}/cache")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._overrides: dict[str, str] = {}
        self._listed: dict[str, str] = {}
        self._list_problems: list[str] = []
        # The colour and checker libraries take seconds to import: before serving, not on the first photo.
        import ccharmony.checker  # noqa: F401
        import ccharmony.dataset.stages  # noqa: F401
        import ccharmony.render  # noqa: F401

        self.refresh_index()
        self._read_tool_state()
        self._read_lists()
        self._stop = threading.Event()
        self._prefetches: list[threading.Thread] = []
        self._worker: threading.Thread | None = None
        if options.background:
            self._worker = threading.Thread(target=self._background, name="annotate-prepare", daemon=True)
            self._worker.start()

    # --- photos -----------------------------------------------------------------

    def refresh_index(self) -> None:
        """Scan the raw folder again (new photos appear in the list)."""
        inside = self.store.root if self.raw_root in self.store.root.parents else None
        index = index_photos(self.raw_root, exclude=inside)
        with self._lock:
            self.photos = index.photos
            self.index_problems = index.problems

    def close(self) -> None:
        """Stop the background thread (it finishes the photo it is on)."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        with self._lock:
            prefetches = list(self._prefetches)
        for thread in prefetches:  # a render cut off at exit aborts the interpreter (OpenCV threads)
            thread.join(timeout=60)

    def _photo(self, name: str) -> Path:
        if "/" in name or "\\" in name or name in ("", ".", "..") or "\x00" in name:
            raise PathRefusedError(f"{name!r}: refused, an image name is a file stem inside the raw folder")
        path = self.photos.get(name)
        if path is None:
            raise NotFoundError(f"{name!r}: no such photo in {self.raw_root}")
        resolved = path.resolve()
        if self.raw_root not in resolved.parents:
            raise PathRefusedError(f"{name!r}: refused, the photo resolves outside {self.raw_root}")
        return path

    def _cache_key(self, name: str) -> dict[str, Any]:
        stat = self._photo(name).stat()
        return {
            "tool": __version__,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "detection_max_side": self.pipeline.detection_max_side,
            "crop_margin": self.pipeline.crop_margin,
            "ingest": repr(self.options.ingest),
        }

    def _cache_file(self, name: str, suffix: str) -> Path:
        return self.store.path(f"{_TOOL_DIR}/cache/{name}{suffix}")

    def _read_linear(self, name: str) -> Any:
        from ccharmony.io import read_image

        return read_image(self._photo(name), self.options.ingest)

    def _loaded_linear(self, name: str) -> Any:
        """Return the decoded photo, reading it when it is not in memory (call under its load lock)."""
        with self._lock:
            loaded = self._loaded.get(name)
            if loaded is not None:
                self._loaded.move_to_end(name)
                return loaded.linear
        linear = self._read_linear(name)
        with self._lock:
            self._loaded[name] = _Loaded(linear)
            while len(self._loaded) > int(self.options.memory_images):
                self._loaded.popitem(last=False)
        return linear

    def info(self, name: str, *, compute: bool = True) -> dict[str, Any] | None:
        """
        Return what the tool knows of a photo without its annotations (camera, size, detection, view).

        With ``compute`` it reads, detects and renders the display copy when
        the cache has nothing valid; without it returns ``None`` then.

        Raises
        ------
        AnnotateError
            The photo cannot be read (its message also shows in the list).
        """
        self._photo(name)
        with self._lock:
            cached = self._infos.get(name)
        if cached is not None:
            return cached
        stored = self._stored_info(name)  # no lock: the cache files are replaced atomically
        if stored is not None:
            return stored
        if not compute:
            return None
        with self._load_locks[name]:
            with self._lock:
                if name in self._infos:
                    return self._infos[name]
            key = self._cache_key(name)
            if not compute:
                return None
            try:
                info = self._compute_info(name, key)
            except CCHarmonyError as error:
                with self._lock:
                    self._errors[name] = str(error)
                raise AnnotateError(f"{name}: {error}") from None
            with self._lock:
                self._infos[name] = info
                self._errors.pop(name, None)
            return info

    def _stored_info(self, name: str) -> dict[str, Any] | None:
        """Return the cached info of a photo when it is still valid (same file, tool and settings)."""
        try:
            stored = json.loads(self._cache_file(name, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if stored.get("key") != self._cache_key(name) or not self._cache_file(name, ".overview.jpg").is_file():
            return None
        with self._lock:
            self._infos.setdefault(name, stored)
            self._errors.pop(name, None)
            return self._infos[name]

    def _compute_info(self, name: str, key: dict[str, Any]) -> dict[str, Any]:
        from ccharmony.checker import detect

        linear = self._loaded_linear(name)
        checker = detect(linear, max_side=self.pipeline.detection_max_side)
        detected = None if checker is None else {
            "corners": np.round(checker.corners, 3).tolist(), "method": checker.method,
        }
        info = {
            "key": key, "name": name, "camera": linear.metadata.camera,
            "shape": [int(linear.shape[0]), int(linear.shape[1])], "detected": detected,
        }
        state = self._state(name, shape=tuple(info["shape"]))
        corners = state.corners if state.corners is not None else (detected or {}).get("corners")
        self._write_view(name, info, linear, corners)
        return info

    def _write_view(self, name: str, info: dict[str, Any], linear: Any, corners: Any) -> None:
        """Compute the chart view and display copies for ``corners``; update ``info`` and the cache."""
        from ccharmony.io.atomic import atomic_write_bytes, atomic_write_text

        view = views.chart_view(linear, corners, crop_margin=self.pipeline.crop_margin)
        overview = views.render_overview(linear, view.render)
        scale = views.THUMB_SIDE / max(overview.shape[:2])
        thumb = cv2.resize(overview, (max(1, round(overview.shape[1] * scale)), max(1, round(overview.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else overview
        info["view"] = view.to_json()
        info["view_corners"] = None if corners is None else [[float(x), float(y)] for x, y in corners]
        info["render_key"] = _render_key(view.render)
        info["overview_size"] = [int(overview.shape[0]), int(overview.shape[1])]
        atomic_write_bytes(self._cache_file(name, ".overview.jpg"), views.encode_jpeg(overview))
        atomic_write_bytes(self._cache_file(name, ".thumb.jpg"), views.encode_jpeg(thumb, quality=85))
        atomic_write_text(self._cache_file(name, ".json"), json.dumps(info))
        with self._lock:
            loaded = self._loaded.get(name)
            if loaded is not None and loaded.render_key != info["render_key"]:
                loaded.levels = []
                loaded.render_key = ""

    def _current_view(self, name: str) -> dict[str, Any]:
        """Return the photo's info with its view matching the current corners (re-rendered if not)."""
        info = self.info(name)
        assert info is not None  # compute=True never returns None  # noqa: S101
        state = self._state(name, shape=tuple(info["shape"]))
        corners = state.corners if state.corners is not None else (info.get("detected") or {}).get("corners")
        wanted = None if corners is None else [[float(x), float(y)] for x, y in corners]
        if wanted != info.get("view_corners"):
            with self._load_locks[name]:
                linear = self._loaded_linear(name)
                self._write_view(name, info, linear, corners)
        return info

    def overview(self, name: str) -> bytes:
        """Return the display copy (JPEG) of the photo."""
        self._current_view(name)
        return self._cache_file(name, ".overview.jpg").read_bytes()

    def thumbnail(self, name: str) -> bytes | None:
        """Return the list thumbnail (JPEG), ``None`` while the photo is not processed."""
        if self.info(name, compute=False) is None:
            return None
        path = self._cache_file(name, ".thumb.jpg")
        return path.read_bytes() if path.is_file() else None

    def full_render(self, name: str, level: int = 0) -> np.ndarray:
        """Return pyramid level ``level`` of the full-resolution render (BGR), rendering when needed."""
        info = self._current_view(name)
        levels = views.tile_levels(tuple(info["shape"]))
        if not 0 <= level < levels:
            raise NotFoundError(f"{name}: tile level {level} does not exist (0..{levels - 1})")
        with self._load_locks[name]:
            linear = self._loaded_linear(name)
            with self._lock:
                loaded = self._loaded[name]
            if loaded.render_key != info["render_key"] or not loaded.levels:
                loaded.levels = [views.render_full(linear, info["view"]["render"])]
                loaded.render_key = info["render_key"]
            while len(loaded.levels) <= level:
                loaded.levels.append(views.pyramid_level(loaded.levels[-1]))
            return loaded.levels[level]

    def tile(self, name: str, level: int, column: int, row: int) -> bytes:
        """Return one full-resolution tile (JPEG)."""
        image = views.tile(self.full_render(name, level), column, row)
        if image is None:
            raise NotFoundError(f"{name}: tile {level}/{column}/{row} lies outside the photo")
        return views.encode_jpeg(image)

    def prefetch(self, name: str) -> None:
        """Render the full resolution in a background thread (tiles and GrabCut need it)."""
        def run() -> None:
            try:
                self.full_render(name)
            except CCHarmonyError as error:  # shown when the user asks for it
                LOGGER.info("%s: prefetch failed: %s", name, error)

        thread = threading.Thread(target=run, name=f"annotate-render-{name}", daemon=True)
        with self._lock:
            self._prefetches = [t for t in self._prefetches if t.is_alive()] + [thread]
        thread.start()

    def _background(self) -> None:
        for name in list(self.photos):
            if self._stop.is_set():
                return
            try:
                self.info(name)
                self._mask_stats(name)
            except CCHarmonyError:
                continue  # recorded in self._errors
            except Exception as error:  # noqa: BLE001 - never kill the worker; show it in the list
                with self._lock:
                    self._errors[name] = f"{name}: {error.__class__.__name__}: {error}"

    # --- annotations of one photo -------------------------------------------------

    def _state(self, name: str, *, shape: tuple[int, ...] | None = None) -> _ImageState:
        with self._image_locks[name]:
            state = self._states.get(name)
            if state is not None:
                return state
            state = self._load_state(name, shape)
            self._states[name] = state
            return state

    def _load_state(self, name: str, shape: tuple[int, ...] | None) -> _ImageState:
        from ccharmony.crop import CropBox

        corners_data = self.store.read(f"checkers/{name}.json")
        corners, problem = None, None
        if corners_data is not None:
            try:
                record = json.loads(corners_data.decode("utf-8"))
                values = np.asarray(record["corners"], np.float64)
                if values.shape != (4, 2) or not np.all(np.isfinite(values)):
                    raise ValueError("not 4 [x, y] pairs")
                corners = values.tolist()
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
                problem = f"checkers/{name}.json: unreadable ({error}); a correction replaces it"
        crop_file = None
        crop_path = self.store.path(f"crops/{name}.json")
        if crop_path.is_file():
            try:
                crop_file = CropBox.from_dict(json.loads(crop_path.read_text(encoding="utf-8"))).to_dict()
            except (ValueError, OSError, CCHarmonyError):
                crop_file = None
        foregrounds = {}
        for letter in self._mask_letters(name):
            foregrounds[letter] = _Foreground(data=self.store.read(f"masks/{name}_{letter}.png"))
        return _ImageState(corners_data, corners, problem, crop_file, foregrounds)

    def _mask_letters(self, name: str) -> list[str]:
        letters = []
        for stem in self.store.listing("masks", ".png"):
            image, separator, letter = stem.rpartition("_")
            if separator and image == name and letter:
                letters.append(letter)
        return sorted(letters)

    def _decode(self, name: str, letter: str, entry: _Foreground, shape: tuple[int, int],
                crop: dict[str, int] | None) -> np.ndarray:
        """Return the full-frame mask of a foreground (placing a cropped mask through crops/)."""
        from ccharmony.io.encode import decode_mask

        if entry.mask is not None:
            return entry.mask
        if entry.data is None:
            entry.mask = np.zeros(shape, bool)
            return entry.mask
        mask = decode_mask(entry.data, name=f"masks/{name}_{letter}.png")
        if mask.shape == shape:
            entry.mask = mask
        elif crop is not None and mask.shape == (crop["height"], crop["width"]) and \
                crop["y"] + crop["height"] <= shape[0] and crop["x"] + crop["width"] <= shape[1]:
            full = np.zeros(shape, bool)
            full[crop["y"]:crop["y"] + crop["height"], crop["x"]:crop["x"] + crop["width"]] = mask
            entry.mask = full
        else:
            entry.readonly = (
                f"masks/{name}_{letter}.png is {mask.shape[1]}x{mask.shape[0]}, neither the photo "
                f"({shape[1]}x{shape[0]}) nor its crops/ box; it is shown read-only"
            )
            entry.mask = np.zeros(shape, bool)
        return entry.mask

    def _shape(self, name: str) -> tuple[int, int]:
        info = self.info(name)
        assert info is not None  # noqa: S101
        return int(info["shape"][0]), int(info["shape"][1])

    def _crop(self, name: str, info: dict[str, Any], state: _ImageState) -> tuple[dict[str, int] | None, str]:
        if state.crop_file is not None:
            return state.crop_file, "crops file"
        return info["view"].get("crop"), "computed from the chart"

    def _mask_stats(self, name: str) -> dict[str, tuple[int, int, int]]:
        """Return foreground letter -> (pixels, pixels inside the crop, crop area)."""
        info = self.info(name)
        assert info is not None  # noqa: S101
        shape = (int(info["shape"][0]), int(info["shape"][1]))
        with self._image_locks[name]:
            state = self._state(name, shape=shape)
            crop, _ = self._crop(name, info, state)
            result = {}
            for letter, entry in state.foregrounds.items():
                if entry.data is None:
                    continue
                key = (name, letter, f"{file_version(entry.data)}:{json.dumps(crop)}")
                stats = self._stats.get(key)
                if stats is None:
                    mask = self._decode(name, letter, entry, shape, crop)
                    total = int(mask.sum())
                    if crop is None:
                        stats = (total, 0, 0)
                    else:
                        inside = int(mask[crop["y"]:crop["y"] + crop["height"], crop["x"]:crop["x"] + crop["width"]].sum())
                        stats = (total, inside, crop["width"] * crop["height"])
                    self._stats[key] = stats
                result[letter] = stats
            return result

    # --- splits ------------------------------------------------------------------

    def _read_tool_state(self) -> None:
        path = self.store.path(f"{_TOOL_DIR}/state.json")
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            overrides = record.get("split_overrides", {})
            self._overrides = {k: v for k, v in overrides.items() if isinstance(k, str) and v in SPLITS}
        except (OSError, ValueError, AttributeError):
            self._overrides = {}

    def _write_tool_state(self) -> None:
        from ccharmony.io.atomic import atomic_write_text

        atomic_write_text(self.store.path(f"{_TOOL_DIR}/state.json"),
                          json.dumps({"split_overrides": dict(sorted(self._overrides.items()))}, indent=1) + "\n")

    def _read_lists(self) -> None:
        listed: dict[str, str] = {}
        problems = []
        for split, file_name in _LISTS.items():
            data = self.store.read(file_name)
            if data is None:
                continue
            for line in data.decode("utf-8", errors="replace").splitlines():
                line = line.strip()
                if not line:
                    continue
                if listed.get(line, split) != split:
                    problems.append(f"{line}: listed in both train and test (build refuses this); set its split")
                listed[line] = split
        with self._lock:
            self._listed = listed
            self._list_problems = problems

    def _splits(self) -> dict[str, tuple[str, str]]:
        """
        Return photo -> (split, source) for every photo; source is lists, user or suggested.

        Suggestions group photos by camera; a photo not processed yet counts as
        an unknown camera, so its suggestion may change once it is (the
        background thread processes every photo at start-up).
        """
        cameras = {name: ((self.info(name, compute=False) or {}).get("camera") or "unknown camera")
                   for name in self.photos}
        with self._lock:
            fixed: dict[str, tuple[str, str]] = {}
            for fg_id, split in sorted(self._listed.items()):
                image, _, _ = fg_id.rpartition("_")
                if image in self.photos and image not in fixed:
                    fixed[image] = (split, "lists")
            for image, split in self._overrides.items():
                # The lists on disk win over a remembered override (someone may have edited them).
                if image in self.photos and fixed.get(image, (split, ""))[0] == split:
                    fixed[image] = (split, "user")
        suggested = suggest_splits(cameras, {k: v[0] for k, v in fixed.items()}, seed=self.options.seed,
                                   test_fraction=self.pipeline.test_fraction)
        return {name: fixed.get(name, (suggested[name], "suggested")) for name in self.photos}

    def _write_lists(self, changes: dict[str, str | None] | None = None) -> None:
        """
        Rewrite both lists from the masks on disk and the photos' splits.

        ``changes``: photo -> new split (``None``: back to the suggestion)
        applied first. Both files are checked for outside changes before
        either is written.
        """
        with self._lock:
            if changes:
                for image, split in changes.items():
                    for fg_id in [k for k in self._listed if k.rpartition("_")[0] == image]:
                        del self._listed[fg_id]
                    if split is None:
                        self._overrides.pop(image, None)
                    else:
                        self._overrides[image] = split
            splits = self._splits()
            lines: dict[str, list[str]] = {"train": [], "test": []}
            listed: dict[str, str] = {}
            for stem in self.store.listing("masks", ".png"):
                image, separator, letter = stem.rpartition("_")
                if not separator or image not in splits:
                    continue
                split = splits[image][0]
                lines[split].append(stem)
                listed[stem] = split
            for file_name in _LISTS.values():
                if self.store.changed_on_disk(file_name):
                    from ccharmony.annotate.store import ConflictError

                    raise ConflictError(file_name, f"{file_name}: changed on disk since it was loaded; "
                                                   "reload to see the other change (nothing was overwritten)")
            for split, file_name in _LISTS.items():
                self.store.write(file_name, "".join(f"{line}\n" for line in sorted(lines[split])).encode())
            self._listed = listed
            self._write_tool_state()

    def set_split(self, name: str, split: str | None) -> dict[str, Any]:
        """
        Put a photo (all its foregrounds) in ``"train"`` or ``"test"``; ``None`` restores the suggestion.

        Returns the photo's detail (:meth:`detail`).
        """
        self._photo(name)
        if split not in (*SPLITS, None):
            raise AnnotateError(f"split must be 'train', 'test' or null (the suggestion), got {split!r}")
        self._write_lists({name: split})
        return self.detail(name)

    # --- the list and the detail ---------------------------------------------------

    def listing(self) -> dict[str, Any]:
        """Return every photo with its state, and the counts."""
        self.refresh_index()
        splits = self._splits()
        rows = []
        for name in self.photos:
            info = self.info(name, compute=False)
            row: dict[str, Any] = {"name": name, "split": splits[name][0], "split_source": splits[name][1]}
            with self._lock:
                error = self._errors.get(name)
            letters = self._mask_letters(name)
            row["foregrounds"] = letters
            if error is not None:
                row.update(chart="unreadable", ready=False, problems=[error])
            elif info is None:
                row.update(chart="pending", ready=False, problems=[])
            else:
                row.update(self._readiness(name, info))
            rows.append(row)
        return {
            "images": rows,
            "total": len(rows),
            "ready": sum(1 for row in rows if row["ready"]),
            "problems": list(self.index_problems) + list(self._list_problems),
        }

    def _readiness(self, name: str, info: dict[str, Any]) -> dict[str, Any]:
        from ccharmony.dataset.layout import image_id
        from ccharmony.errors import DatasetError

        state = self._state(name, shape=tuple(info["shape"]))
        problems: list[str] = []
        if state.corners_problem:
            problems.append(state.corners_problem)
        if state.corners is not None:
            chart = "corrected"
        elif info.get("detected") is not None:
            chart = "found"
        else:
            chart = "missing"
            problems.append("no chart: place it (key C) so the build can read the illuminant")
        crop, _ = self._crop(name, info, state)
        problems.extend(info["view"].get("problems", []))
        stats = self._mask_stats(name)
        usable = 0
        for letter, (total, inside, area) in sorted(stats.items()):
            if crop is None:
                continue
            if inside == 0:
                problems.append(f"foreground {letter}: nothing inside the crop, the build skips this photo")
            elif inside == area:
                problems.append(f"foreground {letter}: covers the whole crop, the build skips this photo")
            else:
                usable += 1
                if inside < total:
                    share = 100 * (total - inside) / total
                    problems.append(f"foreground {letter}: {share:.0f} % ({total - inside} pixels) lies outside "
                                    "the crop and is cut away" if share >= 1 else
                                    f"foreground {letter}: {total - inside} pixels lie outside the crop and are cut away")
        try:
            image_id(name)
        except DatasetError as error:
            problems.append(str(error))
            usable = 0
        bad = any("skips this photo" in p for p in problems)
        ready = chart != "missing" and crop is not None and usable > 0 and not bad and not state.corners_problem
        return {"chart": chart, "camera": info["camera"], "ready": ready, "problems": problems,
                "shape": info["shape"]}

    def detail(self, name: str) -> dict[str, Any]:
        """Return everything the image view shows of a photo (processing it when needed)."""
        info = self._current_view(name)
        shape = (int(info["shape"][0]), int(info["shape"][1]))
        with self._image_locks[name]:
            state = self._state(name, shape=shape)
            crop, crop_source = self._crop(name, info, state)
            foregrounds = []
            for letter in sorted(state.foregrounds):
                foregrounds.append(self._foreground_json(name, letter, state, shape, crop))
            history = {"undo": state.position, "redo": len(state.history) - state.position}
        splits = self._splits()
        readiness = self._readiness(name, info)
        names = list(self.photos)
        position = names.index(name)
        from ccharmony.io.patch_colors import read_standard_srgb

        reference = np.rint(read_standard_srgb(dtype=np.float64)).astype(int).tolist()
        return {
            "name": name,
            "camera": info["camera"],
            "shape": info["shape"],
            "overview_size": info["overview_size"],
            "levels": views.tile_levels(shape),
            "tile_side": views.TILE_SIDE,
            "render_key": info["render_key"],
            "detected": info.get("detected"),
            "chart": {**info["view"], "state": readiness["chart"], "reference": reference,
                      "version": self.store.version(f"checkers/{name}.json")},
            "crop": crop,
            "crop_source": crop_source,
            "foregrounds": foregrounds,
            "history": history,
            "split": splits[name][0],
            "split_source": splits[name][1],
            "ready": readiness["ready"],
            "problems": readiness["problems"],
            "previous": names[position - 1] if position > 0 else None,
            "next": names[position + 1] if position + 1 < len(names) else None,
        }

    def _foreground_json(self, name: str, letter: str, state: _ImageState, shape: tuple[int, int],
                         crop: dict[str, int] | None) -> dict[str, Any]:
        entry = state.foregrounds[letter]
        mask = self._decode(name, letter, entry, shape, crop)
        if entry.outline is None:
            entry.outline = mask_ops.mask_outline(mask)
        area = int(mask.sum())
        inside = area if crop is None else int(
            mask[crop["y"]:crop["y"] + crop["height"], crop["x"]:crop["x"] + crop["width"]].sum())
        return {
            "letter": letter,
            "version": self.store.version(f"masks/{name}_{letter}.png"),
            "saved": entry.data is not None,
            "area": area,
            "outside_crop": area - inside,
            "outline": entry.outline,
            "readonly": entry.readonly,
            "strokes": len(entry.strokes),
            "proposal": None if entry.proposal is None else mask_ops.mask_outline(entry.proposal),
        }

    # --- changes -------------------------------------------------------------------

    def _edit(self, name: str, letter: str, version: str | None | bool = True) -> tuple[_ImageState, _Foreground, tuple[int, int]]:
        if not FOREGROUND_PATTERN.match(letter):
            raise AnnotateError(f"foreground {letter!r}: use a lower-case letter then up to 7 letters or digits")
        from ccharmony.dataset.layout import image_id
        from ccharmony.errors import DatasetError

        try:
            image_id(name)
        except DatasetError as error:
            raise AnnotateError(f"{error}; rename the photo before annotating it") from None
        shape = self._shape(name)
        state = self._state(name, shape=shape)
        entry = state.foregrounds.get(letter)
        if entry is None:
            raise NotFoundError(f"{name}: no foreground {letter!r}; create it first")
        if entry.readonly:
            raise AnnotateError(entry.readonly)
        if version is not True and version != self.store.version(f"masks/{name}_{letter}.png"):
            from ccharmony.annotate.store import ConflictError

            raise ConflictError(f"masks/{name}_{letter}.png",
                                f"masks/{name}_{letter}.png: changed in another window since this one loaded it; "
                                "reload (nothing was overwritten)")
        return state, entry, shape

    def new_foreground(self, name: str) -> dict[str, Any]:
        """Add the next free foreground letter (nothing is written until it has pixels); return the detail."""
        shape = self._shape(name)
        with self._image_locks[name]:
            state = self._state(name, shape=shape)
            taken = set(state.foregrounds) | set(self._mask_letters(name))
            letter = next(c for c in _letters() if c not in taken)
            state.foregrounds[letter] = _Foreground()
        detail = self.detail(name)
        detail["created"] = letter
        return detail

    def _apply_mask(self, name: str, letter: str, state: _ImageState, entry: _Foreground,
                    mask: np.ndarray | None, *, record: bool = True, data: bytes | None | bool = True) -> None:
        """Save a foreground's new mask (``None`` or empty: delete the file) and record it for undo."""
        from ccharmony.io.encode import encode_mask

        if data is True:
            new = None if mask is None or not mask.any() else encode_mask(mask)
        else:
            new = data  # type: ignore[assignment]
        before = entry.data
        had_file = before is not None
        self.store.write(f"masks/{name}_{letter}.png", new)
        entry.data = new
        entry.mask = None if mask is None else np.asarray(mask, bool)
        entry.outline = None
        if record:
            del state.history[state.position:]
            state.history.append(("mask", letter, before, new))
            if len(state.history) > _HISTORY:
                del state.history[0]
            state.position = len(state.history)
        if had_file != (new is not None):
            self._write_lists()

    def propose_box(self, name: str, letter: str, box: Any) -> dict[str, Any]:
        """Run GrabCut on a box; the proposal is shown, not saved, until :meth:`accept`."""
        with self._image_locks[name]:
            state, entry, shape = self._edit(name, letter)
        image = self.full_render(name)
        proposal = mask_ops.grabcut_box(image, box, work_side=self.options.work_side)
        with self._image_locks[name]:
            entry.proposal = proposal
        return self.detail(name)

    def accept(self, name: str, letter: str, version: str | None | bool = True) -> dict[str, Any]:
        """Make the pending proposal the foreground's mask (saved)."""
        with self._image_locks[name]:
            state, entry, shape = self._edit(name, letter, version)
            if entry.proposal is None:
                raise AnnotateError(f"{name}: foreground {letter} has no proposal to accept; draw a box first")
            if not entry.proposal.any():
                raise AnnotateError(f"{name}: GrabCut found no foreground in the box; draw a larger box "
                                    "or paint the object with the add brush")
            proposal, entry.proposal = entry.proposal, None
            entry.strokes = []
            self._apply_mask(name, letter, state, entry, proposal)
        return self.detail(name)

    def reject(self, name: str, letter: str) -> dict[str, Any]:
        """Drop the pending proposal."""
        with self._image_locks[name]:
            _, entry, _ = self._edit(name, letter)
            entry.proposal = None
        return self.detail(name)

    def stroke(self, name: str, letter: str, points: Any, radius: float, mode: str,
               version: str | None | bool = True) -> dict[str, Any]:
        """Paint an add / erase brush stroke (saved; remembered as a GrabCut hint)."""
        stroke = mask_ops.Stroke(points, radius, mode)
        with self._image_locks[name]:
            state, entry, shape = self._edit(name, letter, version)
            crop, _ = self._crop(name, self._current_view(name), state)
            current = self._decode(name, letter, entry, shape, crop)
            entry.strokes.append(stroke)
            self._apply_mask(name, letter, state, entry, mask_ops.paint_stroke(current, stroke))
        return self.detail(name)

    def polygon(self, name: str, letter: str, points: Any, mode: str,
                version: str | None | bool = True) -> dict[str, Any]:
        """Fill (add) or cut out (erase) a polygon (saved)."""
        with self._image_locks[name]:
            state, entry, shape = self._edit(name, letter, version)
            crop, _ = self._crop(name, self._current_view(name), state)
            current = self._decode(name, letter, entry, shape, crop)
            self._apply_mask(name, letter, state, entry, mask_ops.fill_polygon(current, points, mode=mode))  # type: ignore[arg-type]
        return self.detail(name)

    def refine(self, name: str, letter: str, iterations: int = 3, version: str | None | bool = True) -> dict[str, Any]:
        """Run more GrabCut iterations from the mask, the strokes as certain labels (saved)."""
        if not 1 <= int(iterations) <= 20:
            raise AnnotateError(f"iterations must be 1..20, got {iterations!r}")
        with self._image_locks[name]:
            state, entry, shape = self._edit(name, letter, version)
            crop, _ = self._crop(name, self._current_view(name), state)
            current = self._decode(name, letter, entry, shape, crop).copy()
            strokes = list(entry.strokes)
        image = self.full_render(name)
        refined = mask_ops.grabcut_refine(image, current, strokes, iterations=int(iterations),
                                          work_side=self.options.work_side)
        with self._image_locks[name]:
            self._edit(name, letter, version)
            self._apply_mask(name, letter, state, entry, refined)
        return self.detail(name)

    def delete_foreground(self, name: str, letter: str, version: str | None | bool = True) -> dict[str, Any]:
        """Delete a foreground's mask file (undoable)."""
        with self._image_locks[name]:
            state, entry, _ = self._edit(name, letter, version)
            self._apply_mask(name, letter, state, entry, None)
            entry.strokes, entry.proposal = [], None
        return self.detail(name)

    def set_corners(self, name: str, corners: Any, version: str | None | bool = True) -> dict[str, Any]:
        """
        Save a corrected chart (``checkers/<image>.json``, section 4 order) and re-render.

        Raises
        ------
        AnnotateError
            Not 4 finite points inside the photo.
        """
        shape = self._shape(name)
        values = np.asarray(corners, np.float64) if corners is not None else np.zeros(0)
        if values.shape != (4, 2) or not np.all(np.isfinite(values)):
            raise AnnotateError(f"corners must be 4 [x, y] pairs, got {str(corners)[:80]}")
        height, width = shape
        if values[:, 0].min() < -0.5 or values[:, 1].min() < -0.5 or values[:, 0].max() > width - 0.5 \
                or values[:, 1].max() > height - 0.5:
            raise AnnotateError(f"corners {values.round(1).tolist()} must lie inside the {width}x{height} photo")
        self._set_corners_data(name, _corners_bytes(values.tolist()), version)
        return self.detail(name)

    def reset_corners(self, name: str, version: str | None | bool = True) -> dict[str, Any]:
        """Delete ``checkers/<image>.json``: the build detects the chart again (undoable)."""
        self._shape(name)
        self._set_corners_data(name, None, version)
        return self.detail(name)

    def place_chart(self, name: str) -> dict[str, Any]:
        """Place a chart in the middle of the photo (for photos where none was found), saved."""
        return self.set_corners(name, views.default_corners(self._shape(name)))

    def _set_corners_data(self, name: str, data: bytes | None, version: str | None | bool,
                          *, record: bool = True) -> None:
        relative = f"checkers/{name}.json"
        with self._image_locks[name]:
            state = self._state(name)
            if version is not True and version != self.store.version(relative):
                from ccharmony.annotate.store import ConflictError

                raise ConflictError(relative, f"{relative}: changed in another window since this one loaded it; "
                                              "reload (nothing was overwritten)")
            before = state.corners_data
            self.store.write(relative, data)
            state.corners_data = data
            state.corners = None if data is None else json.loads(data)["corners"]
            state.corners_problem = None
            if record:
                del state.history[state.position:]
                state.history.append(("chart", "", before, data))
                state.position = len(state.history)

    def undo(self, name: str) -> dict[str, Any]:
        """Undo the photo's last change (mask or chart), saving the previous file back."""
        return self._step(name, -1)

    def redo(self, name: str) -> dict[str, Any]:
        """Redo the change last undone."""
        return self._step(name, +1)

    def _step(self, name: str, direction: int) -> dict[str, Any]:
        shape = self._shape(name)
        with self._image_locks[name]:
            state = self._state(name, shape=shape)
            if direction < 0 and state.position == 0:
                raise AnnotateError(f"{name}: nothing to undo")
            if direction > 0 and state.position >= len(state.history):
                raise AnnotateError(f"{name}: nothing to redo")
            index = state.position - 1 if direction < 0 else state.position
            kind, letter, before, after = state.history[index]
            target = before if direction < 0 else after
            if kind == "chart":
                self._set_corners_data(name, target, True, record=False)
            else:
                entry = state.foregrounds.setdefault(letter, _Foreground())
                if entry.readonly:
                    raise AnnotateError(entry.readonly)
                entry.proposal = None
                self._apply_mask(name, letter, state, entry, None, record=False, data=target)
                entry.mask = None  # decoded from the restored bytes when needed
            state.position = index if direction < 0 else index + 1
        return self.detail(name)

    def reload(self, name: str | None = None) -> dict[str, Any]:
        """
        Forget what was loaded and read the files again (after a conflict).

        ``name``: one photo's masks and chart (and both lists); ``None``: the
        lists only. Returns the photo's detail or the listing.
        """
        lists = list(_LISTS.values())
        self.store.forget(lists)
        self._read_lists()
        if name is None:
            return self.listing()
        self._photo(name)
        with self._image_locks[name]:
            state = self._states.pop(name, None)
            if state is not None:
                self.store.forget([f"checkers/{name}.json"] + [f"masks/{name}_{k}.png" for k in state.foregrounds])
        return self.detail(name)


def _letters() -> Any:
    """Yield a, b, ..., z, aa, ab, ... (foreground letters)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    for letter in alphabet:
        yield letter
    for first in alphabet:
        for second in alphabet:
            yield first + second

