"""
Dataset builder
===============

Build a harmonization dataset (ARCHITECTURE.md section 6) from photos and an
annotation set, the way ccHarmony was built :cite:`Niu2023`:

-   :class:`BuildOptions`: inputs, output folder, pipeline, seed, workers.
-   :func:`build_dataset`: run the stages, write the folder, return a summary.
-   :func:`plan_targets`: the seeded choice of target images per foreground.

Stages run per source image (:mod:`ccharmony.dataset.stages`), mapped over a
process pool (or a Ray cluster). Only this module writes into the output folder,
always to a temporary file renamed into place, and it records each finished
image under ``.ccharmony-build/`` so that an interrupted build (Ctrl-C or
``kill -9``) resumes without redoing finished work and ends byte-identical to an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ccharmony import __version__
from ccharmony.dataset.annotations import AnnotationSet, read_annotation_set
from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.executors import task_executor
from ccharmony.dataset.layout import (
    BUILD_FILE,
    COMPOSITE_DIR,
    MASK_DIR,
    METADATA_COLUMNS,
    METADATA_FILE,
    REAL_DIR,
    SPLITS,
    image_id,
    list_file_name,
)
from ccharmony.dataset.stages import (
    CompositeTask,
    ImageTask,
    PEAK_RSS,
    PreparedImage,
    Skip,
    cache_file,
    cache_files_of_image,
    make_composites,
    prepare_image,
)
from ccharmony.dataset.writer import DatasetWriter
from ccharmony.errors import ConfigError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["BuildOptions", "BuildSummary", "build_dataset", "plan_targets", "STATE_DIR", "EMBEDDED_DEFAULT"]

LOGGER = logging.getLogger(__name__)

STATE_DIR = ".ccharmony-build"
"""Work folder inside the output: finished-stage records and decoded-pixel caches.
Removed when the build completes."""

EMBEDDED_DEFAULT: dict[str, Any] = {"count": 16, "seed": 7, "size": (480, 320)}
"""The scene set ``build`` synthesizes when no ``--raw-dir`` is given."""

_IGNORED_SUFFIXES = {".txt", ".json", ".csv", ".md", ".npz", ".npy", ".yaml", ".yml", ".xmp", ".pp3"}


@dataclass(frozen=True)
class BuildOptions:
    """
    Inputs and options of one build.

    Parameters
    ----------
    out
        The dataset folder to write.
    raw_dir
        Folder of photos; ``None`` builds the embedded default (synthetic scenes).
    annotations
        Annotation set folder; default ``<raw_dir>/annotations`` when present.
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
    """

    out: Path
    raw_dir: Path | None = None
    annotations: Path | None = None
    pipeline: Pipeline = field(default_factory=Pipeline)
    seed: int = 0
    workers: int = 1
    executor: str = "local"
    ray_address: str | None = None
    ingest: Any = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"--executor must be 'local' or 'ray', got {self.executor!r}")


@dataclass(frozen=True)
class BuildSummary:
    """What a build produced: counts, skipped inputs, and where."""

    out: Path
    images: int
    foregrounds: int
    composites: int
    splits: dict[str, int]
    skipped: list[dict[str, str]]
    resumed: bool
    seconds: float
    up_to_date: bool = False

    def lines(self) -> list[str]:
        """Return a short human-readable summary."""
        counts = (
            f"{self.images} images, {self.foregrounds} foregrounds, {self.composites} composites "
            f"(train {self.splits.get('train', 0)}, test {self.splits.get('test', 0)})"
        )
        if self.up_to_date:
            text = [f"{self.out} is already built from these inputs, pipeline and seed: {counts}"]
        else:
            text = [f"built {self.out}: {counts} in {self.seconds:.1f} s" + (" (resumed)" if self.resumed else "")]
        for item in self.skipped:
            text.append(f"skipped {item['image']}: {item['reason']}")
        return text


# --- executors ---------------------------------------------------------------


def _run_prepare(args: tuple[ImageTask, Pipeline]) -> PreparedImage | Skip:
    return prepare_image(*args)


def _run_composites(args: tuple[CompositeTask, Pipeline]):  # noqa: ANN202
    return make_composites(*args)


# --- inputs ---------------------------------------------------------------------


def _index_photos(raw_dir: Path, wanted: Iterable[str]) -> tuple[dict[str, Path], dict[str, Path]]:
    """Return photo file and Gehler ``_macbeth.txt`` file per annotated image name."""
    wanted = set(wanted)
    photos: dict[str, Path] = {}
    macbeth: dict[str, Path] = {}
    for path in sorted(raw_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.name.endswith("_macbeth.txt"):
            name = path.name[: -len("_macbeth.txt")]
            if name in wanted:
                macbeth[name] = path
            continue
        if path.suffix.lower() in _IGNORED_SUFFIXES or path.stem not in wanted:
            continue
        if path.stem in photos:
            raise DatasetError(
                f"{path}: duplicate photo for image {path.stem!r} (also {photos[path.stem]}); keep one"
            )
        photos[path.stem] = path
    return photos, macbeth


def _stable_seed(seed: int, *parts: str) -> int:
    digest = hashlib.sha256("\x1f".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def plan_splits(images: list[str], annotations: AnnotationSet, *, seed: int, test_fraction: float) -> dict[str, str]:
    """
    Return the split of each source image.

    From the annotation lists when they name the image; otherwise a seeded split
    by source image, so no image is in both splits.
    """
    splits: dict[str, str] = {}
    unlisted = []
    for image in images:
        listed = annotations.image_split(image)
        if listed is not None:
            splits[image] = listed
        else:
            unlisted.append(image)
    if unlisted:
        rng = np.random.default_rng(_stable_seed(seed, "split"))
        order = rng.permutation(len(unlisted))
        n_test = max(1, int(round(test_fraction * len(unlisted)))) if len(unlisted) > 1 else 0
        for rank, index in enumerate(order):
            splits[unlisted[index]] = "test" if rank < n_test else "train"
    return splits


def plan_targets(
    prepared: dict[str, dict[str, Any]],
    pipeline: Pipeline,
    *,
    seed: int,
) -> dict[tuple[str, str], list[str]]:
    """
    Choose the K target images of every foreground.

    Each foreground's choice is seeded by ``(seed, foreground id)``, so it does not
    depend on processing order or on the other foregrounds.
    """
    from ccharmony.composite import TargetCandidate, select_targets

    candidates = [
        TargetCandidate(id=name, illuminant=tuple(float(v) for v in record["illuminant_srgb"]), camera=record["camera"])  # type: ignore[arg-type]
        for name, record in sorted(prepared.items())
    ]
    plan: dict[tuple[str, str], list[str]] = {}
    for name, record in sorted(prepared.items()):
        for letter in sorted(record["foregrounds"]):
            plan[(name, letter)] = list(
                select_targets(
                    name,
                    candidates,
                    k=pipeline.k,
                    policy=pipeline.policy,
                    same_camera=pipeline.same_camera,
                    min_angle_deg=pipeline.min_angle_deg,
                    seed=_stable_seed(seed, record["id"], letter),
                )
            )
    return plan


def _config_key(options: BuildOptions, inputs: dict[str, Any]) -> str:
    payload = json.dumps(
        {"pipeline": options.pipeline.to_dict(), "seed": options.seed, "inputs": inputs, "version": __version__},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_output(out: Path, key: str) -> bool:
    """Return whether ``out`` holds an unfinished build of the same inputs (resume)."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: output path exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        state = out / STATE_DIR / "state.json"
        if state.exists():
            try:
                previous = json.loads(state.read_text(encoding="utf-8")).get("key")
            except (OSError, ValueError):
                previous = None
            if previous == key:
                return True
            raise DatasetError(
                f"{out}: holds an unfinished build with other inputs, pipeline or seed; "
                "use another --out or delete the folder"
            )
        build = out / BUILD_FILE
        if build.exists():
            try:
                previous = json.loads(build.read_text(encoding="utf-8")).get("build_key")
            except (OSError, ValueError):
                previous = None
            if previous == key:
                return True
        raise DatasetError(f"{out}: folder is not empty and holds no build of these inputs; use another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ccharmony-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise DatasetError(f"{out}: output folder is not writable ({error.strerror or error})") from None
    return False


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


def _embedded_inputs(state: Path, progress: bool) -> tuple[Path, Path]:
    """Synthesize the embedded default scene set into the build's work folder."""
    from ccharmony.synth import synthesize

    target = state / "embedded"
    marker = target / "complete.json"
    if not marker.exists():
        if target.exists():
            shutil.rmtree(target)
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
        marker.write_text(json.dumps(EMBEDDED_DEFAULT, sort_keys=True))
    return target / "raw", target / "annotations"


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
        For fatal problems (unwritable or foreign output folder, missing inputs,
        duplicate ids), raised before anything in the output is overwritten.
        Per-image problems skip that image and are listed in ``build.json``.
    """
    started = time.perf_counter()
    out = Path(options.out)
    pipeline = options.pipeline
    embedded = options.raw_dir is None

    if options.raw_dir is not None:
        raw_dir = Path(options.raw_dir)
        if not raw_dir.is_dir():
            raise DatasetError(f"{raw_dir}: --raw-dir is not a folder")
        annotations_dir = Path(options.annotations) if options.annotations else raw_dir / "annotations"
        if not annotations_dir.is_dir():
            raise DatasetError(
                f"{annotations_dir}: annotation set not found; pass --annotations DIR "
                "(masks/<image>_<fg>.png and optional patch_colors/, checkers/, crops/, lists)"
            )
        inputs_key: dict[str, Any] = {"raw_dir": str(raw_dir.resolve()), "annotations": str(annotations_dir.resolve())}
    else:
        inputs_key = {"embedded": EMBEDDED_DEFAULT}

    key = _config_key(options, inputs_key)
    resumed = _check_output(out, key)
    if resumed and (out / BUILD_FILE).exists() and not (out / STATE_DIR).exists():
        LOGGER.info("%s is already built with these inputs", out)
        return _summary_from_build_json(out, started)

    writer = DatasetWriter(out)
    state = out / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    writer.write_json(f"{STATE_DIR}/state.json", {"key": key})
    _remove_orphan_temporaries(out)

    if embedded:
        raw_dir, annotations_dir = _embedded_inputs(state, options.progress)

    annotations = read_annotation_set(annotations_dir)
    photos, macbeth = _index_photos(raw_dir, annotations.images)
    skipped: list[dict[str, str]] = [{"image": "-", "reason": problem} for problem in annotations.problems]
    tasks: list[ImageTask] = []
    cache = state / "cache"
    # Pool workers stage their output files next to the dataset (see
    # ccharmony.dataset.stages.stage_file); one worker runs in this process and
    # Ray workers may be on other machines, so those hand back bytes.
    staged: Path | None = None
    in_process = options.executor == "local" and options.workers == 1
    if options.executor == "local" and options.workers > 1:
        staged = state / "staged"
        shutil.rmtree(staged, ignore_errors=True)  # a killed run's, never renamed
        staged.mkdir(parents=True)
    for image in annotations.images:
        if image not in photos:
            skipped.append({"image": image, "reason": f"no photo named {image}.* in {raw_dir}"})
            continue
        tasks.append(
            ImageTask(
                image=image,
                photo=photos[image],
                masks=tuple((f.foreground, f.mask_path) for f in annotations.foregrounds[image]),
                patch_colors=annotations.patch_colors.get(image),
                checker=annotations.checkers.get(image),
                macbeth=macbeth.get(image),
                crop=annotations.crops.get(image),
                cache_dir=cache,
                ingest=options.ingest,
                stage_dir=staged,
                cache_in_memory=in_process,
            )
        )

    # Stage A: per image, skipping what a previous run finished.
    prepared: dict[str, dict[str, Any]] = {}
    todo: list[ImageTask] = []
    for task in tasks:
        record_path = state / "prepared" / f"{image_id(task.image)}.json"
        if record_path.exists():
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if record.get("skip"):
                skipped.append({"image": task.image, "reason": record["skip"]})
            else:
                prepared[task.image] = record
        else:
            todo.append(task)
    timings: Counter[str] = Counter()
    peak_rss = 0.0  # MiB, the largest worker's (the stage functions report it)
    # One executor (process pool or Ray session) for both stages: workers import
    # the libraries once.
    with task_executor(
        executor=options.executor, workers=options.workers, ray_address=options.ray_address
    ) as run, writer.background():
        results = run(_run_prepare, [(task, pipeline) for task in todo])
        for index, result in _progress(results, total=len(todo), description="prepare", enabled=options.progress):
            task = todo[index]
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

        if len(prepared) < 2:
            raise DatasetError(
                f"{out}: only {len(prepared)} usable image(s); a composite needs a source and another target image"
            )

        # Plan splits and targets centrally (cheap, deterministic).
        splits = plan_splits(sorted(prepared), annotations, seed=options.seed, test_fraction=pipeline.test_fraction)
        targets = plan_targets(prepared, pipeline, seed=options.seed)

        # Stage B: composites per foreground (balanced tasks, bounded result size).
        composite_tasks: list[CompositeTask] = []
        rows: list[dict[str, Any]] = []
        for image in sorted(prepared):
            record = prepared[image]
            for letter in sorted(record["foregrounds"]):
                rows_path = state / "rows" / f"{record['id']}_{letter}.json"
                if rows_path.exists():
                    rows.extend(json.loads(rows_path.read_text(encoding="utf-8")))
                    continue
                composite_tasks.append(
                    CompositeTask(
                        source=record,
                        targets={letter: tuple(prepared[t] for t in targets[(image, letter)])},
                        splits={letter: splits[image]},
                        cache_dir=cache,
                        stage_dir=staged,
                    )
                )
        # Largest first (composites x pixels), so that the workers finish together.
        composite_tasks.sort(key=_composite_work, reverse=True)
        # Each image's cached pixels are deleted once its last foreground is done:
        # disk use shrinks as the build goes, and files deleted before the kernel
        # writes them back never reach the disk.
        unfinished = Counter(task.source["id"] for task in composite_tasks)
        results = run(_run_composites, [(task, pipeline) for task in composite_tasks])
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
    summary = _finalize(
        writer, options, key, prepared, rows, skipped, dict(timings), resumed, started, inputs_key, peak_rss
    )
    shutil.rmtree(state, ignore_errors=True)
    return summary


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


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"ccharmony": __version__, "python": platform.python_version()}
    for name in ("numpy", "opencv-contrib-python-headless", "colour-science", "scikit-image", "rawpy", "pandas", "pyarrow"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - depends on install
            versions[name] = "absent"
    try:
        import rawpy

        versions["libraw"] = ".".join(str(part) for part in rawpy.libraw_version)
    except Exception:  # pragma: no cover - optional detail  # noqa: BLE001
        pass
    return versions


def _finalize(
    writer: DatasetWriter,
    options: BuildOptions,
    key: str,
    prepared: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    timings: dict[str, float],
    resumed: bool,
    started: float,
    inputs_key: dict[str, Any],
    peak_rss: float = 0.0,
) -> BuildSummary:
    import io

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ccharmony.dataset.card import write_card

    out = writer.out
    pipeline = options.pipeline
    rows = sorted(rows, key=lambda row: row["composite_file_name"])
    hashes: dict[str, str] = {}
    for row in rows:
        for column in ("real_file_name", "mask_file_name"):
            name = row[column]
            if name not in hashes:
                hashes[name] = _file_sha256(out / name)
        row["real_sha256"] = hashes[row["real_file_name"]]
        row["mask_sha256"] = hashes[row["mask_file_name"]]
    frame = pd.DataFrame(rows, columns=list(METADATA_COLUMNS))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    writer.write(METADATA_FILE, buffer.getvalue())

    split_counts: dict[str, int] = {split: 0 for split in SPLITS}
    for split in SPLITS:
        names = [row["composite_file_name"].split("/", 1)[1] for row in rows if row["split"] == split]
        split_counts[split] = len(names)
        writer.write(list_file_name(pipeline.name, split), "".join(f"{n}\n" for n in names).encode())

    used = {row["image_id"] for row in rows}
    foregrounds = {row["foreground_id"] for row in rows}
    counts = {
        "images": len(used),
        "foregrounds": len(foregrounds),
        "composites": len(rows),
        "splits": split_counts,
        "per_camera": dict(sorted(Counter(row["source_camera"] for row in rows).items())),
    }
    images = {record["id"]: {k: v for k, v in record.items() if k not in ("patches_linear",)} for record in prepared.values()}
    write_card(writer, pipeline=pipeline, rows=rows, counts=counts, images=images, inputs=inputs_key,
               versions=_versions(), seed=options.seed)

    # The workers hashed the composites they encoded; hash each other file once.
    for row in rows:
        hashes[row["composite_file_name"]] = row["composite_sha256"]
    content = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file() and STATE_DIR not in p.parts and p.name != BUILD_FILE):
        relative = path.relative_to(out).as_posix()
        digest = hashes.get(relative) or _file_sha256(path)
        content.update(str(path.relative_to(out)).encode() + b"\0" + digest.encode())
    seconds = time.perf_counter() - started
    build = {
        "build_key": key,
        "config": pipeline.to_dict(),
        "seed": options.seed,
        "inputs": inputs_key,
        "counts": counts,
        "skipped": skipped,
        "images": images,
        "versions": _versions(),
        "content_sha256": content.hexdigest(),
        # Wall-clock facts of this run: the only fields that differ between two
        # builds of the same inputs (every other file is byte-identical).
        "timings": {"total_s": round(seconds, 3), "resumed": resumed, "stages_s": {k: round(v, 3) for k, v in sorted(timings.items())},
                     "workers": options.workers, "executor": options.executor,
                     # MiB, the largest worker's peak resident memory (0: unknown, or all resumed)
                     "peak_rss_mb_per_worker": peak_rss},
    }
    writer.write_json(BUILD_FILE, build)
    return BuildSummary(out, len(used), len(foregrounds), len(rows), split_counts, skipped, resumed, seconds)


def _summary_from_build_json(out: Path, started: float) -> BuildSummary:
    build = json.loads((out / BUILD_FILE).read_text(encoding="utf-8"))
    counts: dict[str, Any] = build["counts"]
    return BuildSummary(out, counts["images"], counts["foregrounds"], counts["composites"], counts["splits"],
                        build.get("skipped", []), True, time.perf_counter() - started, up_to_date=True)
