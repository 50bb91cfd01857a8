"""
Dataset builder
===============

Build a harmonization dataset (ARCHITECTURE.md section 6) from photos and an
annotation set, the way ccHarmony was built :cite:`Niu2023`:

-   :class:`BuildOptions`: inputs, output folder, pipeline, seed, workers.
-   :func:`build_dataset`: run the stages, write the folder, return a summary.
-   :class:`BuildSummary`: counts, skipped inputs and target shortfalls.
-   :func:`plan_targets`, :func:`plan_splits`: the seeded choices
    (:mod:`ccharmony.dataset.plan`).

Stages run per source image (:mod:`ccharmony.dataset.stages`), mapped over a
process pool (or a Ray cluster). Only the writer (:mod:`ccharmony.dataset.writer`)
writes into the output folder, always to a temporary file renamed into place,
and it records each finished image under ``.ccharmony-build/`` so that an
interrupted build (Ctrl-C, ``kill -9``, a full disk) resumes without redoing
finished work and ends byte-identical to an uninterrupted one.

One build holds a folder at a time (an OS lock, :mod:`ccharmony.dataset.lock`).
The build key covers the pipeline, the seed, the tool version and a content
fingerprint of every input file (:mod:`ccharmony.dataset.inputs`): a folder
built from other inputs (a replaced photo, a deleted mask, a changed list) is
refused with a line saying what changed, and rebuilt with ``rebuild=True``
(``--rebuild``); a finished folder whose files were deleted or changed since
is refused the same way (:func:`ccharmony.dataset.output.damaged_files`).

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccharmony import __version__
from ccharmony.dataset.annotations import AnnotationSet, read_annotation_set
from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.executors import task_executor
from ccharmony.dataset.finalize import BuildSummary, finalize_build, summary_from_build_json, write_manifest
from ccharmony.dataset.inputs import PhotoScan, input_fingerprints, scan_photos
from ccharmony.dataset.layout import (
    BUILD_FILE,
    COMPOSITE_DIR,
    MANIFEST_FILE,
    MASK_DIR,
    REAL_DIR,
    SPLITS,
    image_id,
    list_file_name,
)
from ccharmony.dataset.lock import folder_lock
from ccharmony.dataset.output import (
    STATE_DIR,
    STATE_FILE,
    build_record,
    damaged_files,
    describe_difference,
    inspect_output,
)
from ccharmony.dataset.plan import (
    check_listed_splits,
    check_splits,
    plan_splits,
    plan_targets,
    shortfalls,
)
from ccharmony.dataset.stages import (
    MAP_PUBLISHED,
    CompositeTask,
    ImageTask,
    PEAK_RSS,
    PreparedImage,
    Skip,
    cache_file,
    cache_files_of_image,
    cache_files_of_task,
    make_composites,
    prepare_image,
)
from ccharmony.dataset.store import is_url, local_path
from ccharmony.dataset.writer import DatasetWriter
from ccharmony.errors import CCHarmonyError, ConfigError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "BuildOptions",
    "BuildSummary",
    "build_dataset",
    "plan_targets",
    "plan_splits",
    "STATE_DIR",
    "EMBEDDED_DEFAULT",
]

LOGGER = logging.getLogger(__name__)

EMBEDDED_DEFAULT: dict[str, Any] = {"count": 16, "seed": 7, "size": (480, 320)}
"""The scene set ``build`` synthesizes when no ``--raw-dir`` is given."""


@dataclass(frozen=True)
class BuildOptions:
    """
    Inputs and options of one build.

    Parameters
    ----------
    out
        The dataset folder to write (relative paths are taken from the
        current folder once, at the start), or an object-store URL
        (``s3://bucket/ds``, ``gs://...``; :mod:`ccharmony.dataset.store_build`).
    raw_dir
        Folder (or store URL) of photos; ``None`` builds the embedded default
        (synthetic scenes).
    annotations
        Annotation set folder or store URL; default ``<raw_dir>/annotations``.
    pipeline
        The build configuration.
    seed
        Seed of every random choice (targets, split).
    workers
        Processes for the per-image stages.
    executor
        ``local`` (process pool) or ``ray``.
    ray_address
        Address of a Ray cluster (``ray`` executor only).
    ingest
        :class:`ccharmony.io.IngestOptions` for the photos.
    progress
        Show progress bars on stderr.
    rebuild
        Rebuild a folder this tool wrote from other inputs or settings, or
        whose files were damaged, instead of refusing it: every file is
        recomputed and the files the new build does not produce are removed.
    """

    out: Path | str
    raw_dir: Path | str | None = None
    annotations: Path | str | None = None
    pipeline: Pipeline = field(default_factory=Pipeline)
    seed: int = 0
    workers: int = 1
    executor: str = "local"
    ray_address: str | None = None
    ingest: Any = None
    progress: bool = True
    rebuild: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"--executor must be 'local' or 'ray', got {self.executor!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"--seed must be an integer, got {self.seed!r}")


# --- executors ---------------------------------------------------------------


def _run_prepare(args: tuple[ImageTask, Pipeline]) -> PreparedImage | Skip:
    return prepare_image(*args)


def _run_composites(args: tuple[CompositeTask, Pipeline]):  # noqa: ANN202
    return make_composites(*args)


def _run_prepare_remote(args: Any) -> PreparedImage | Skip:
    from ccharmony.dataset.remote import prepare_remote

    return prepare_remote(args)


def _run_composites_remote(args: Any):  # noqa: ANN202
    from ccharmony.dataset.remote import composites_remote

    return composites_remote(args)


def _composites_after_cache(writer: DatasetWriter) -> Callable[[tuple[CompositeTask, Pipeline]], Any]:
    """
    Return stage B for a build that runs its stages in this process.

    Stage A handed its pixel cache to the writer thread (to be saved on another
    core); each stage-B task first waits on the writer's completion handle of
    exactly the cache files it reads, so the hand-off is ordered by
    construction whatever the writer's speed or the task order.
    """

    def run(args: tuple[CompositeTask, Pipeline]) -> Any:
        task, pipeline = args
        writer.wait_for(cache_files_of_task(task, pipeline))
        return _run_composites(args)

    return run


# --- inputs and key ---------------------------------------------------------------


def _config_key(options: BuildOptions, inputs: dict[str, Any], input_files: dict[str, str]) -> str:
    payload: dict[str, Any] = {
        "pipeline": options.pipeline.to_dict(), "seed": options.seed, "inputs": inputs, "version": __version__
    }
    if input_files:  # the embedded default is a function of the version and its settings alone
        payload["input_files"] = input_files
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class _Inputs:
    """
    The annotation set and the photos of a build, with their fingerprints.

    ``raw_shown`` names the photos' folder (or URL) in messages; ``store``
    maps the paths of inputs on a store (``str(path)``) to their URLs, for
    the tasks to download themselves (:mod:`ccharmony.dataset.remote`).
    """

    raw_shown: str
    annotations: AnnotationSet
    scan: PhotoScan
    fingerprints: dict[str, str]
    store: Any = None  # ccharmony.dataset.store_build.StoreInputs, for inputs on a store

    def urls_of(self, task: ImageTask) -> tuple[tuple[str, str], ...]:
        """Return ``(str(path), URL)`` of the task's inputs that are on a store."""
        if self.store is None:
            return ()
        paths = [task.photo, task.patch_colors, task.checker, task.macbeth, task.crop,
                 *(path for _, path in task.masks)]
        return tuple((str(p), self.store.urls[str(p)]) for p in paths if p is not None and str(p) in self.store.urls)

    def name(self, text: str) -> str:
        """Name inputs on a store by their URL in a message (not by the local mirror)."""
        return text if self.store is None else self.store.name(text)


def _read_inputs(raw_dir: Path, annotations_dir: Path, *, exclude: list[Path], fingerprint: bool) -> _Inputs:
    annotations = read_annotation_set(annotations_dir)
    scan = scan_photos(raw_dir, annotations.images, exclude=exclude)
    fingerprints: dict[str, str] = {}
    if fingerprint:
        fingerprints = input_fingerprints(
            raw_dir=raw_dir, photos=[*scan.photos.values(), *scan.macbeth.values()],
            annotations_dir=annotations_dir, annotation_files=annotations.files(),
        )
    return _Inputs(str(raw_dir), annotations, scan, fingerprints)


def _read_any_inputs(raw: Path | str, annotations_location: Path | str, *, out: Path | str) -> _Inputs:
    """
    Read inputs of which at least one is on a store (the photos, the annotations or both).

    The annotation set on a store is mirrored into a local folder of this
    process (small files, read for its index, fingerprints and published
    maps); the photos on a store are only listed, and fingerprinted by two
    ranged reads each. Tasks download what they need themselves.
    """
    from ccharmony.dataset.inputs import fingerprint
    from ccharmony.dataset.store import store_filesystem
    from ccharmony.dataset.store_build import read_store_inputs, scan_store_photos, store_fingerprint

    annotations_url = annotations_location if isinstance(annotations_location, str) else None
    _, mirror, store = read_store_inputs(None, annotations_url)
    annotations_dir = mirror if mirror is not None else Path(annotations_location)
    try:
        annotations = read_annotation_set(annotations_dir)
    except CCHarmonyError as error:
        raise type(error)(store.name(str(error))) from None
    fingerprints = {f"annotations/{path.relative_to(annotations_dir).as_posix()}": fingerprint(path, whole=True)
                    for path in annotations.files()}
    if isinstance(raw, str):
        fs, root = store_filesystem(raw)
        out_root = store_filesystem(out)[1] if isinstance(out, str) else None
        # The output is never searched for photos, unless the photos live in it (the embedded default).
        exclude = [out_root] if out_root is not None and not root.startswith(out_root + "/") else []
        scan, sizes = scan_store_photos(raw, annotations.images, exclude=exclude)
        for path in [*scan.photos.values(), *scan.macbeth.values()]:
            key = path.as_posix()
            store.urls[str(path)] = f"{raw.split('://', 1)[0]}://{key}"
            size = sizes.get(key)
            if size is None:
                size = int(fs.info(key).get("size") or 0)
            fingerprints[f"raw_dir/{key[len(root) + 1:]}"] = store_fingerprint(fs, key, size)
        shown = raw.rstrip("/")
    else:
        scan = scan_photos(raw, annotations.images, exclude=[out] if isinstance(out, Path) else [])
        fingerprints.update(input_fingerprints(raw_dir=raw, photos=[*scan.photos.values(), *scan.macbeth.values()],
                                               annotations_dir=raw, annotation_files=[]))
        shown = str(raw)
    problems = tuple(store.name(problem) for problem in annotations.problems)
    annotations = dataclasses.replace(annotations, problems=problems)
    return _Inputs(shown, annotations, scan, dict(sorted(fingerprints.items())), store)


def _progress(iterable: Iterable[Any], *, total: int, description: str, enabled: bool) -> Iterator[Any]:
    """Yield from ``iterable`` with a progress bar, holding no reference to a yielded item.

    (tqdm's own iterator keeps the last item alive while the next task runs; a
    stage result can be hundreds of megabytes of encoded images.)
    """
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit="img", disable=not enabled, dynamic_ncols=True) as bar:
        for item in iterable:
            yield item
            del item
            bar.update(1)


def _synthesize_embedded(target: Path) -> None:
    from ccharmony.synth import synthesize

    LOGGER.info("synthesizing the embedded default scene set")
    synthesize(
        target,
        count=EMBEDDED_DEFAULT["count"],
        seed=EMBEDDED_DEFAULT["seed"],
        size=EMBEDDED_DEFAULT["size"],
        relit=False,
    )
    # Leave the chart corners out so that the main job exercises detection too.
    shutil.rmtree(target / "annotations" / "checkers", ignore_errors=True)


def _embedded_inputs(state: Path, progress: bool) -> tuple[Path, Path]:
    """Synthesize the embedded default scene set into the build's work folder."""
    target = state / "embedded"
    marker = target / "complete.json"
    if not marker.exists():
        if target.exists():
            shutil.rmtree(target)
        _synthesize_embedded(target)
        marker.write_text(json.dumps(EMBEDDED_DEFAULT, sort_keys=True))
    return target / "raw", target / "annotations"


def _embedded_store_inputs(writer: Any) -> tuple[str, str]:
    """The embedded default of a dataset on a store: synthesized here once, kept in its work folder on the store."""
    import tempfile

    prefix = f"{STATE_DIR}/embedded"
    marker = f"{prefix}/complete.json"
    if not writer.exists(marker):
        writer.remove_tree(prefix)
        with tempfile.TemporaryDirectory(prefix="ccharmony-embedded-") as scratch:
            target = Path(scratch)
            _synthesize_embedded(target)
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    writer.write(f"{prefix}/{path.relative_to(target).as_posix()}", path.read_bytes())
        writer.write(marker, json.dumps(EMBEDDED_DEFAULT, sort_keys=True).encode())
    return writer.describe(f"{prefix}/raw"), writer.describe(f"{prefix}/annotations")


# --- the build -------------------------------------------------------------------


def build_dataset(options: BuildOptions) -> BuildSummary:
    """
    Build a dataset folder.

    Parameters
    ----------
    options
        :class:`BuildOptions`.

    Returns
    -------
    BuildSummary

    Raises
    ------
    DatasetError, AnnotationError, ConfigError
        For fatal problems, raised before anything in the output is
        overwritten: an unwritable, foreign or locked output folder (another
        build holds it), one built from other inputs or settings or damaged
        since (unless ``rebuild``), missing inputs, duplicate ids, a split that
        would be empty. Per-image problems skip that image and are listed in
        ``build.json``; foregrounds given fewer than K targets are listed there
        too.

    Notes
    -----
    With ``out`` on an object store, the dataset is written there directly
    (content, then lists, metadata, card, ``build.json`` and ``MANIFEST.json``
    last), its work folder and stage-A cache live on the store too, and the
    stage tasks read their inputs from, and write their files to, the store
    themselves (:mod:`ccharmony.dataset.remote`): no machine's local disk is
    shared.
    """
    started = time.perf_counter()
    if is_url(options.out):
        return _build_on_store(options, str(options.out).rstrip("/"), started)
    shown = local_path(options.out)
    # Absolute once: every path derived from it (caches, staged files, tasks for
    # other processes) is then the same whatever the current folder.
    out = Path(os.path.abspath(shown))
    raw_dir, annotations_dir = _input_locations(options)

    # A foreign folder is refused before anything, the lock file included, is written into it.
    inspect_output(out, shown=shown)
    created = not os.path.lexists(out)
    try:
        with folder_lock(out, shown=shown):
            return _build_locked(options, DatasetWriter(out), shown, raw_dir, annotations_dir, started)
    except BaseException:
        if created:  # nothing of ours was written: leave no empty folder behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _input_locations(options: BuildOptions) -> tuple[Path | str | None, Path | str | None]:
    """Return the photos' and the annotations' location (an absolute path or a store URL), checked."""
    if options.raw_dir is None:
        return None, None
    raw: Path | str
    if is_url(options.raw_dir):
        raw = str(options.raw_dir).rstrip("/")
    else:
        raw = Path(os.path.abspath(local_path(options.raw_dir)))
        if not raw.is_dir():
            raise DatasetError(f"{options.raw_dir}: --raw-dir is not a folder")
    annotations: Path | str
    if options.annotations is not None and is_url(options.annotations):
        annotations = str(options.annotations).rstrip("/")
    elif options.annotations is not None:
        annotations = Path(os.path.abspath(local_path(options.annotations)))
    elif isinstance(raw, str):
        annotations = f"{raw}/annotations"
    else:
        annotations = raw / "annotations"
    if isinstance(annotations, Path) and not annotations.is_dir():
        raise DatasetError(
            f"{options.annotations or annotations}: annotation set not found; pass --annotations DIR "
            "(masks/<image>_<fg>.png and optional patch_colors/, checkers/, crops/, lists)"
        )
    return raw, annotations


def _build_on_store(options: BuildOptions, url: str, started: float) -> BuildSummary:
    """:func:`build_dataset` for a dataset on an object store."""
    from ccharmony.dataset.store_build import StoreWriter, inspect_store, store_lock

    raw, annotations = _input_locations(options)
    inspect_store(url)
    with store_lock(url):
        return _build_locked(options, StoreWriter(url), url, raw, annotations, started)


def _build_locked(
    options: BuildOptions, writer: DatasetWriter, shown: Path | str, raw_dir: Path | str | None,
    annotations_dir: Path | str | None, started: float,
) -> BuildSummary:
    pipeline = options.pipeline
    on_store = not isinstance(shown, Path)
    out = writer.out
    inputs: _Inputs | None = None
    if raw_dir is not None and annotations_dir is not None:
        if isinstance(raw_dir, Path) and isinstance(annotations_dir, Path):
            inputs = _read_inputs(raw_dir, annotations_dir, exclude=[out] if not on_store else [], fingerprint=True)
            inputs_key: dict[str, Any] = {"raw_dir": str(raw_dir.resolve()), "annotations": str(annotations_dir.resolve())}
        else:
            inputs = _read_any_inputs(raw_dir, annotations_dir, out=shown if on_store else out)
            inputs_key = {"raw_dir": str(raw_dir) if isinstance(raw_dir, str) else str(raw_dir.resolve()),
                          "annotations": str(annotations_dir) if isinstance(annotations_dir, str)
                          else str(annotations_dir.resolve())}
        check_listed_splits(inputs.annotations, inputs.scan.photos, where=shown)
        fingerprints = inputs.fingerprints
    else:
        inputs_key = {"embedded": EMBEDDED_DEFAULT}
        fingerprints = {}
    key = _config_key(options, inputs_key, fingerprints)
    record = build_record(key=key, config=pipeline.to_dict(), seed=options.seed, inputs=inputs_key,
                          input_files=fingerprints)

    # Under the lock: what the folder holds now.
    if on_store:
        from ccharmony.dataset.store_build import inspect_store

        current = inspect_store(str(shown))
    else:
        current = inspect_output(out, shown=shown)
    previous_key = current.record.get("key") if current.kind == "unfinished" else current.record.get("build_key")
    hint = "run again with --rebuild to rebuild it from the current inputs, or use another --out"
    if current.kind != "new" and previous_key != key and not options.rebuild:
        what = "an unfinished build" if current.kind == "unfinished" else "a build"
        raise DatasetError(f"{shown}: holds {what} of other inputs or settings "
                           f"({describe_difference(current.record, record)}); {hint}")
    if current.kind == "finished" and previous_key == key and not options.rebuild:
        damage = _damage(writer, current.record)
        if not damage:
            LOGGER.info("%s is already built with these inputs", shown)
            return summary_from_build_json(writer, shown, started)
        more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
        raise DatasetError(f"{shown}: {damage[0]}{more}; run again with --rebuild to rebuild the folder "
                           "from its inputs")

    resumed = current.kind == "unfinished" and previous_key == key and not options.rebuild
    stale_lists: list[str] = list(current.record.get("stale_lists", [])) if resumed else []
    if not resumed:
        if current.kind != "new":  # a rebuild: the old lists go unless produced again
            config = current.record.get("config") or {}
            name = config.get("name") if isinstance(config, dict) else None
            if isinstance(name, str):
                stale_lists += [list_file_name(name, split) for split in SPLITS if "/" not in name]
            stale_lists += list(current.record.get("stale_lists", []))
            # The completion markers go first: from here on the folder is visibly unfinished.
            writer.delete(MANIFEST_FILE)
            writer.delete(BUILD_FILE)
        writer.remove_tree(STATE_DIR)
    if not on_store:
        (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
    writer.write_json(STATE_FILE, {**record, "stale_lists": sorted(set(stale_lists))})
    if not on_store:
        _remove_orphan_temporaries(out)

    if inputs is None:  # the embedded default
        if on_store:
            inputs = _read_any_inputs(*_embedded_store_inputs(writer), out=shown)
        else:
            raw, annotations = _embedded_inputs(out / STATE_DIR, options.progress)
            inputs = _read_inputs(raw, annotations, exclude=[out], fingerprint=False)
    return _run_stages(options, writer, shown, inputs, key, inputs_key, fingerprints,
                       sorted(set(stale_lists)), resumed, started)


def _damage(writer: DatasetWriter, record: dict[str, Any]) -> list[str]:
    """The damaged files of a finished build (a missing manifest of a local build is written again)."""
    from ccharmony.dataset.store_build import StoreWriter, damaged_store_files

    if isinstance(writer, StoreWriter):
        return damaged_store_files(writer)
    damage = damaged_files(writer.out, record)
    if not damage and not writer.exists(MANIFEST_FILE):
        write_manifest(writer)  # the last step of a build interrupted just before it
    return damage


def _valid_record(writer: DatasetWriter, record: dict[str, Any]) -> bool:
    """Whether a stage-A record's files are still in place (a resume repairs what is not)."""
    from ccharmony.dataset.layout import mask_name, real_name

    if record.get("skip"):
        return True
    names = [f"{REAL_DIR}/{real_name(record['id'])}"] + [
        f"{MASK_DIR}/{mask_name(record['id'], letter)}" for letter in record.get("foregrounds", {})
    ]
    return all(writer.exists(name) for name in names)


def _valid_rows(writer: DatasetWriter, rows: list[dict[str, Any]]) -> bool:
    """Whether a stage-B record's composites are still in place."""
    return bool(rows) and all(writer.exists(row["composite_file_name"]) for row in rows)


def _published_maps(
    annotations: AnnotationSet, images: Iterable[str], pipeline: Pipeline, skipped: list[dict[str, str]],
    name: Callable[[str], str],
) -> dict[str, dict[str, Any]]:
    """Read the published maps of the prepared images (``maps: published``); an unreadable one is reported and not used."""
    if pipeline.maps != MAP_PUBLISHED:
        return {}
    from ccharmony.transfer.published import read_published_map

    maps: dict[str, dict[str, Any]] = {}
    for image in sorted(images):
        if image not in annotations.published_maps:
            continue
        forward, reverse = annotations.published_maps[image]
        try:
            maps[image] = {"forward": read_published_map(forward).params, "reverse": read_published_map(reverse).params}
        except CCHarmonyError as error:
            skipped.append({"image": "-", "reason": name(f"{error}; {image} uses no published map (fitted instead)")})
    return maps


def _run_stages(
    options: BuildOptions, writer: DatasetWriter, shown: Path | str, inputs: _Inputs, key: str,
    inputs_key: dict[str, Any], fingerprints: dict[str, str], stale_lists: list[str], resumed: bool,
    started: float,
) -> BuildSummary:
    from ccharmony.dataset.remote import CACHE_DIR, RemoteCompositeTask, RemoteImageTask

    pipeline = options.pipeline
    on_store = not isinstance(shown, Path)
    store_url = str(shown) if on_store else None
    out = writer.out
    annotations = inputs.annotations
    scan = inputs.scan
    skipped: list[dict[str, str]] = [{"image": "-", "reason": problem}
                                     for problem in (*annotations.problems, *scan.problems)]
    tasks: list[ImageTask] = []
    # On a store the cache is there too (every task reaches it); relative to the dataset.
    cache = CACHE_DIR if on_store else out / STATE_DIR / "cache"
    # Pool workers stage their output files next to the dataset (see
    # ccharmony.dataset.stages.stage_file); one worker runs in this process and
    # Ray workers may be on other machines, so those hand back bytes. Tasks of a
    # dataset on a store put their files there themselves.
    staged: Path | None = None
    in_process = options.executor == "local" and options.workers == 1 and not on_store
    if options.executor == "local" and options.workers > 1 and not on_store:
        staged = out / STATE_DIR / "staged"
        shutil.rmtree(staged, ignore_errors=True)  # a killed run's, never renamed
        staged.mkdir(parents=True)
    for image in annotations.images:
        if image not in scan.photos:
            reason = scan.irregular.get(image) or f"no photo named {image}.* in {inputs.raw_shown}"
            skipped.append({"image": image, "reason": reason})
            continue
        tasks.append(
            ImageTask(
                image=image,
                photo=scan.photos[image],
                masks=tuple((f.foreground, f.mask_path) for f in annotations.foregrounds[image]),
                patch_colors=annotations.patch_colors.get(image),
                checker=annotations.checkers.get(image),
                macbeth=scan.macbeth.get(image),
                crop=annotations.crops.get(image),
                cache_dir=cache,
                ingest=options.ingest,
                stage_dir=staged,
                cache_in_memory=in_process,
            )
        )
    by_image = {task.image: task for task in tasks}
    remote = on_store or inputs.store is not None

    def stage_a(task: ImageTask) -> tuple[Any, Any]:
        if remote:
            return _run_prepare_remote, (RemoteImageTask(task, inputs.urls_of(task), store_url), pipeline)
        return _run_prepare, (task, pipeline)

    # Stage A: per image, skipping what a previous run finished (and whose files are still there).
    prepared: dict[str, dict[str, Any]] = {}
    todo: list[ImageTask] = []
    if on_store:
        writer.refresh()  # type: ignore[attr-defined]  # one listing for every check below
    for task in tasks:
        record_path = f"{STATE_DIR}/prepared/{image_id(task.image)}.json"
        record = writer.read_json(record_path) if writer.exists(record_path) else None
        if record is not None and _valid_record(writer, record):
            if record.get("skip"):
                skipped.append({"image": task.image, "reason": record["skip"]})
            else:
                prepared[task.image] = record
        else:
            todo.append(task)
    timings: Counter[str] = Counter()
    peak_rss = 0.0  # MiB, the largest worker's (the stage functions report it)

    def prepare(run: Any, batch: list[ImageTask]) -> None:
        nonlocal peak_rss
        if not batch:
            return
        function = stage_a(batch[0])[0]
        results = run(function, [stage_a(task)[1] for task in batch])
        for index, result in _progress(results, total=len(batch), description="prepare", enabled=options.progress):
            task = batch[index]
            relative = f"{STATE_DIR}/prepared/{image_id(task.image)}.json"
            if isinstance(result, Skip):
                skipped.append({"image": result.image, "reason": result.reason})
                writer.write_json(relative, {"skip": result.reason})
                continue
            for path, data in sorted(result.files.items()):
                writer.write(path, data)
            for cached, array in result.cache.items():  # before the record that needs them
                writer.write(cached, array)
            record = result.to_json()
            del result  # before the next task runs (one worker: in this process)
            task_timings = record.pop("timings")
            peak_rss = max(peak_rss, task_timings.pop(PEAK_RSS, 0.0))
            timings.update(task_timings)
            writer.write_json(relative, record)
            prepared[task.image] = json.loads(json.dumps(record))

    # One executor (process pool or Ray session) for both stages: workers import
    # the libraries once.
    with task_executor(
        executor=options.executor, workers=options.workers, ray_address=options.ray_address
    ) as run, writer.background():
        prepare(run, todo)

        if len(prepared) < 2:
            raise DatasetError(_too_few(shown, prepared, tasks, skipped))

        # Plan splits and targets centrally (cheap, deterministic).
        splits = plan_splits(sorted(prepared), annotations, seed=options.seed, test_fraction=pipeline.test_fraction)
        targets = plan_targets(prepared, pipeline, seed=options.seed)
        short = shortfalls(targets, prepared, pipeline)
        check_splits(splits, sorted({name for (name, _), chosen in targets.items() if chosen}), annotations,
                     where=shown, left_out=[item for item in skipped if item["image"] != "-"])
        published = _published_maps(annotations, prepared, pipeline, skipped, inputs.name)

        # Stage B: composites per foreground (balanced tasks, bounded result size).
        composite_tasks: list[CompositeTask] = []
        rows: list[dict[str, Any]] = []
        for image in sorted(prepared):
            record = prepared[image]
            for letter in sorted(record["foregrounds"]):
                if not targets[(image, letter)]:
                    continue  # no eligible target: recorded as a shortfall
                rows_path = f"{STATE_DIR}/rows/{record['id']}_{letter}.json"
                if writer.exists(rows_path):
                    done = writer.read_json(rows_path)
                    if _valid_rows(writer, done):
                        rows.extend(done)
                        continue
                chosen = targets[(image, letter)]
                composite_tasks.append(
                    CompositeTask(
                        source=record,
                        targets={letter: tuple(prepared[t] for t in chosen)},
                        splits={letter: splits[image]},
                        cache_dir=cache,
                        stage_dir=staged,
                        published={name: published[name] for name in sorted({image, *chosen}) if name in published},
                    )
                )
        # A resumed (or repaired) build whose pixel cache an image's finished foregrounds
        # already deleted prepares that image again: same files, same record.
        missing = sorted({task.source["image"] for task in composite_tasks
                          if not all(writer.exists(path) for path in cache_files_of_task(task, pipeline))
                          and task.source["image"] in by_image})
        if missing:
            prepare(run, [by_image[image] for image in missing])
            lost = [item for item in skipped if item["image"] in missing]
            if lost:
                raise DatasetError(f"{shown}: {lost[0]['image']} cannot be prepared again to repair the build "
                                   f"({lost[0]['reason']}); run again with --rebuild")
        # Largest first (composites x pixels), so that the workers finish together.
        composite_tasks.sort(key=_composite_work, reverse=True)
        # Each image's cached pixels are deleted once its last foreground is done:
        # disk use shrinks as the build goes, and files deleted before the kernel
        # writes them back never reach the disk.
        unfinished = Counter(task.source["id"] for task in composite_tasks)
        if on_store:
            assert store_url is not None  # noqa: S101 - on_store
            results = run(_run_composites_remote, [(RemoteCompositeTask(task, store_url), pipeline)
                                                   for task in composite_tasks])
        else:
            stage_b = _composites_after_cache(writer) if in_process else _run_composites
            results = run(stage_b, [(task, pipeline) for task in composite_tasks])
        for index, (task_rows, files, task_timings) in _progress(
            results, total=len(composite_tasks), description="composite", enabled=options.progress
        ):
            for path, data in sorted(files.items()):
                writer.write(path, data)
            del files  # before the next task runs (one worker: in this process)
            peak_rss = max(peak_rss, task_timings.pop(PEAK_RSS, 0.0))
            timings.update(task_timings)
            task = composite_tasks[index]
            ident, letter = task.source["id"], next(iter(task.targets))
            writer.write_json(f"{STATE_DIR}/rows/{ident}_{letter}.json", task_rows)
            rows.extend(task_rows)
            # Through the writer: after the rows record, so a resumed build never
            # needs a deleted file.
            writer.delete(cache_file(cache, ident, letter))
            unfinished[ident] -= 1
            if not unfinished[ident]:
                for path in cache_files_of_image(cache, ident):
                    writer.delete(path)

    timings.update({"write": writer.seconds})  # type: ignore[dict-item]
    summary = finalize_build(
        writer, options, key, prepared, rows, skipped, dict(timings), resumed, started, inputs_key, peak_rss,
        shown=shown, shortfalls=short, input_files=fingerprints, stale_lists=stale_lists,
    )
    writer.remove_tree(STATE_DIR)
    if inputs.store is not None and inputs.store.mirror is not None:
        inputs.store.mirror.cleanup()
    return summary


def _too_few(shown: Path | str, prepared: dict[str, Any], tasks: list[ImageTask], skipped: list[dict[str, str]]) -> str:
    """The message of a build left with fewer than two usable images."""
    if not tasks:
        return (f"{shown}: no photo matches an annotated image (photos are found by name, <image>.* under "
                "--raw-dir, for each masks/<image>_<fg>.png); check --raw-dir and --annotations")
    reasons = [item for item in skipped if item["image"] != "-"]
    first = f"; e.g. {reasons[0]['image']}: {reasons[0]['reason']}" if reasons else ""
    return (f"{shown}: only {len(prepared)} usable image(s) of {len(tasks)}; a composite needs a source and "
            f"another target image{first}")


def _composite_work(task: CompositeTask) -> tuple[int, str, str]:
    """Return a sort key of a stage-B task's work: composites x pixels (then id, for a stable order)."""
    height, width = task.source["size"]
    composites = sum(len(targets) for targets in task.targets.values())
    return composites * height * width, task.source["id"], ",".join(sorted(task.targets))


def _remove_orphan_temporaries(out: Path) -> None:
    """Delete temporary files a killed run left behind (they were never renamed)."""
    import re

    # ccharmony.io.atomic names its temporaries ".<stem>.<12 hex>.tmp<suffix>".
    pattern = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(\.[^.]*)?$")
    for folder in (out, out / REAL_DIR, out / MASK_DIR, out / COMPOSITE_DIR):
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file() and pattern.match(path.name):
                    path.unlink()
