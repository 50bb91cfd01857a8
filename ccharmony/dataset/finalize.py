"""
Build finish
============

The last step of ``ccharmony build``, once every composite is on disk, and its
summary:

-   :func:`finalize_build`: write ``metadata.parquet`` (and one per split),
    ``published_ids.csv``, the split lists, the card, ``build.json`` (it marks
    a local folder finished) and ``MANIFEST.json`` last (it marks a dataset on
    a store finished), remove what a rebuild no longer produces, and return
    the :class:`BuildSummary`.
-   :func:`write_manifest`: ``MANIFEST.json`` of a finished folder, again.
-   :class:`BuildSummary`: counts, skipped inputs and target shortfalls.
-   :func:`summary_from_build_json`: the summary of a finished folder.
-   :func:`tool_versions`: the versions ``build.json`` and the card record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccharmony import __version__
from ccharmony.dataset.layout import (
    BUILD_FILE,
    BUILT_METADATA_COLUMNS,
    MANIFEST_FILE,
    METADATA_FILE,
    PUBLISHED_IDS_FILE,
    SPLIT_METADATA_FILES,
    SPLITS,
    list_file_name,
)
from ccharmony.dataset.lock import LOCK_FILE
from ccharmony.dataset.output import STATE_DIR
from ccharmony.dataset.store import manifest_bytes
from ccharmony.dataset.writer import DatasetWriter
from ccharmony.errors import DatasetError

if TYPE_CHECKING:
    from ccharmony.dataset.builder import BuildOptions

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["BuildSummary", "finalize_build", "summary_from_build_json", "tool_versions", "check_finite_rows",
           "write_manifest", "PUBLISHED_IDS_COLUMNS"]

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildSummary:
    """What a build produced: counts, skipped inputs, target shortfalls, and where."""

    out: Path | str
    images: int
    foregrounds: int
    composites: int
    splits: dict[str, int]
    skipped: list[dict[str, str]]
    resumed: bool
    seconds: float
    up_to_date: bool = False
    shortfalls: list[dict[str, Any]] = field(default_factory=list)

    def headline(self) -> str:
        """Return the one line that says what was built."""
        counts = (
            f"{self.images} images, {self.foregrounds} foregrounds, {self.composites} composites "
            f"(train {self.splits.get('train', 0)}, test {self.splits.get('test', 0)})"
        )
        if self.up_to_date:
            return f"{self.out} is already built from these inputs, pipeline and seed: {counts}"
        return f"built {self.out}: {counts} in {self.seconds:.1f} s" + (" (resumed)" if self.resumed else "")

    def warnings(self) -> list[str]:
        """Return one line per skipped input and per foreground with fewer than K composites."""
        # An image left out names it; a file ignored (a list line naming no mask, a FIFO) says so itself.
        text = [f"skipped {item['image']}: {item['reason']}" if item["image"] != "-" else item["reason"]
                for item in self.skipped]
        if self.shortfalls:
            missing = sum(item["wanted"] - item["got"] for item in self.shortfalls)
            text.append(f"{len(self.shortfalls)} foreground(s) got fewer composites than asked "
                        f"({missing} composite(s) short; recorded in build.json and the card):")
            text += [f"  {item['foreground']}: {item['got']} of {item['wanted']} ({item['reason']})"
                     for item in self.shortfalls]
        return text

    def lines(self) -> list[str]:
        """Return a short human-readable summary: the headline, then the warnings."""
        return [self.headline(), *self.warnings()]


def tool_versions() -> dict[str, str]:
    """Return the versions of the tool, Python and the libraries that decide the bytes of a build."""
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


def finalize_build(
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
    *,
    shown: Path | str,
    shortfalls: list[dict[str, Any]],
    input_files: dict[str, str],
    stale_lists: list[str],
) -> BuildSummary:
    """
    Write the metadata, lists, card, ``build.json`` and manifest of a build whose composites are all written.

    ``build.json`` and then ``MANIFEST.json`` go last: until they exist the
    folder (or the dataset on a store) is an unfinished build.
    """
    import io

    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ccharmony.dataset.card import write_card

    pipeline = options.pipeline
    rows = sorted(rows, key=lambda row: row["composite_file_name"])
    hashes: dict[str, str] = {}
    for row in rows:
        for column in ("real_file_name", "mask_file_name"):
            name = row[column]
            if name not in hashes:
                hashes[name] = writer.sha256(name)
        row["real_sha256"] = hashes[row["real_file_name"]]
        row["mask_sha256"] = hashes[row["mask_file_name"]]
    check_finite_rows(rows)
    frame = pd.DataFrame(rows, columns=list(BUILT_METADATA_COLUMNS))
    table = pa.Table.from_pandas(frame, preserve_index=False)

    def parquet(part: pa.Table) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(part, buffer, compression="zstd")
        return buffer.getvalue()

    writer.write(METADATA_FILE, parquet(table))
    # The same rows, one file per split: the card's Hugging Face configs read these.
    for split, name in SPLIT_METADATA_FILES.items():
        writer.write(name, parquet(table.filter(pc.equal(table["split"], split))))
    published_ids = _published_ids(rows)
    writer.write(PUBLISHED_IDS_FILE, published_ids)

    split_counts: dict[str, int] = {split: 0 for split in SPLITS}
    lists: dict[str, bytes] = {}
    for split in SPLITS:
        names = [row["composite_file_name"].split("/", 1)[1] for row in rows if row["split"] == split]
        split_counts[split] = len(names)
        lists[list_file_name(pipeline.name, split)] = "".join(f"{n}\n" for n in names).encode()
        writer.write(list_file_name(pipeline.name, split), lists[list_file_name(pipeline.name, split)])

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
    card_files = write_card(writer, pipeline=pipeline, rows=rows, counts=counts, images=images, inputs=inputs_key,
                            versions=tool_versions(), seed=options.seed, shortfalls=shortfalls)

    # Everything this build wrote; a rebuild's leftovers (composites of a foreground
    # that is gone, lists of an old name) are removed.
    produced = {row[column] for row in rows for column in ("composite_file_name", "real_file_name", "mask_file_name")}
    produced |= {METADATA_FILE, *SPLIT_METADATA_FILES.values(), PUBLISHED_IDS_FILE, *lists, *card_files}
    writer.wait_for(sorted(produced))
    for removed in writer.remove_stale(produced, lists=stale_lists):
        LOGGER.info("removed %s (not produced by this build)", removed)

    # The workers hashed the composites they encoded; hash each other file once.
    for row in rows:
        hashes[row["composite_file_name"]] = row["composite_sha256"]
    files: dict[str, str] = {}
    content = hashlib.sha256()
    listing = writer.list_files(skip=(STATE_DIR, LOCK_FILE, BUILD_FILE, MANIFEST_FILE))
    manifest: dict[str, tuple[str, int]] = {}
    for relative, size in sorted(listing.items(), key=lambda item: Path(item[0])):  # the order of Path.rglob's sort
        digest = hashes.get(relative) or writer.sha256(relative)
        if relative not in hashes:
            files[relative] = digest  # metadata, lists, card: checked against build.json on the next run
        content.update(str(Path(relative)).encode() + b"\0" + digest.encode())
        manifest[relative] = (digest, size)
    seconds = time.perf_counter() - started
    build = {
        "build_key": key,
        "config": pipeline.to_dict(),
        "seed": options.seed,
        "inputs": inputs_key,
        "input_files": input_files,
        "counts": counts,
        "skipped": skipped,
        "shortfalls": shortfalls,
        "images": images,
        "versions": tool_versions(),
        "content_sha256": content.hexdigest(),
        "files": files,
        # Wall-clock facts of this run: the only fields that differ between two
        # builds of the same inputs (every other file is byte-identical).
        "timings": {"total_s": round(seconds, 3), "resumed": resumed, "stages_s": {k: round(v, 3) for k, v in sorted(timings.items())},
                     "workers": options.workers, "executor": options.executor,
                     # MiB, the largest worker's peak resident memory (0: unknown, or all resumed)
                     "peak_rss_mb_per_worker": peak_rss},
    }
    data = (json.dumps(build, indent=1, sort_keys=True) + "\n").encode()
    writer.write(BUILD_FILE, data)
    # Last: on a store, the dataset exists for readers from here on.
    writer.write(MANIFEST_FILE, manifest_bytes(manifest, record=BUILD_FILE))
    writer.wait_for([MANIFEST_FILE])
    return BuildSummary(shown, len(used), len(foregrounds), len(rows), split_counts, skipped, resumed, seconds,
                        shortfalls=shortfalls)


PUBLISHED_IDS_COLUMNS = ("published_foreground", "foreground_id", "published_image", "image_id", "split")
"""Columns of ``published_ids.csv``."""


def _published_ids(rows: list[dict[str, Any]]) -> bytes:
    """
    Return ``published_ids.csv``: one row per foreground, its names in the annotation set and in the dataset.

    The builder's only renaming is :func:`ccharmony.dataset.layout.image_id`
    (``Canon1DsMkIII_0010`` -> ``Canon1DsMkIII-0010``); the published
    ``train_list.txt``/``test_list.txt`` name foregrounds as
    ``<published image>_<fg>``, so joining them on ``published_foreground``
    finds each one's composites (``foreground_id`` in ``metadata.parquet``).
    """
    import csv
    import io

    seen: dict[str, dict[str, str]] = {}
    for row in rows:
        letter = row["foreground_id"].rsplit("_", 1)[1]
        seen.setdefault(row["foreground_id"], {
            "published_foreground": f"{row['source_image']}_{letter}", "foreground_id": row["foreground_id"],
            "published_image": row["source_image"], "image_id": row["image_id"], "split": row["split"]})
    buffer = io.StringIO()
    table = csv.DictWriter(buffer, fieldnames=list(PUBLISHED_IDS_COLUMNS), lineterminator="\n")
    table.writeheader()
    for foreground in sorted(seen.values(), key=lambda item: item["published_foreground"]):
        table.writerow(foreground)
    return buffer.getvalue().encode("utf-8")


def write_manifest(writer: DatasetWriter) -> None:
    """Write ``MANIFEST.json`` of a finished folder again from its files (every file but the manifest)."""
    listing = writer.list_files(skip=(STATE_DIR, LOCK_FILE, MANIFEST_FILE, BUILD_FILE))
    writer.write(MANIFEST_FILE, manifest_bytes({name: (writer.sha256(name), size) for name, size in listing.items()},
                                               record=BUILD_FILE))


def check_finite_rows(rows: list[dict[str, Any]]) -> None:
    """Refuse to write a metadata row holding NaN or infinity (the stages leave such images out)."""
    for row in rows:
        for column, value in row.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise DatasetError(
                    f"{row['composite_file_name']}: metadata column {column} is not finite ({value}); "
                    "this is a bug, please report it with the inputs"
                )


def summary_from_build_json(writer: DatasetWriter, shown: Path | str, started: float) -> BuildSummary:
    """Return the summary of a finished build from its ``build.json``."""
    build = writer.read_json(BUILD_FILE)
    counts: dict[str, Any] = build["counts"]
    return BuildSummary(shown, counts["images"], counts["foregrounds"], counts["composites"], counts["splits"],
                        build.get("skipped", []), True, time.perf_counter() - started, up_to_date=True,
                        shortfalls=build.get("shortfalls", []))
