"""
Hugging Face export
===================

Define :func:`export_hf`: a dataset folder as a Hugging Face dataset
repository :cite:`Lhoest2021` that ``datasets.load_dataset(OUT)`` loads as
``{"train": ..., "test": ...}``, ready to push to a hub as it is::

    OUT/README.md                             dataset card; YAML "configs" with
                                              data_files per split
    OUT/data/train-00000-of-00001.parquet     Parquet shards, images embedded
    OUT/data/test-00000-of-00001.parquet
    OUT/DATASET_CARD.md, build.json, card/    the source's provenance

Each row is one composite: ``composite``, ``mask`` and ``real`` are
``datasets.Image`` features holding the files' own bytes (``{"bytes", "path"}``,
nothing re-encoded), followed by every column of ``metadata.parquet`` with its
Parquet type. The features travel in each shard's Arrow schema metadata (the
``huggingface`` key that ``datasets`` writes and reads), so no loading script is
needed. A real image is embedded once per composite that uses it, as a table of
composites requires.

References
----------
-   :cite:`Lhoest2021` : Lhoest, Q., Villanova del Moral, A., Jernite, Y.,
    Thakur, A., von Platen, P., Patil, S., et al. (2021). Datasets: A
    Community Library for Natural Language Processing. EMNLP 2021: System
    Demonstrations, 175-184. doi:10.18653/v1/2021.emnlp-demo.21
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from ccharmony import __version__
from ccharmony._types import PathType
from ccharmony.dataset.layout import CARD_FILE, SPLITS
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.export._links import (
    DEFAULT_SHARD_SIZE,
    ExportResult,
    FilePlacer,
    check_out,
    staged_output,
    write_text,
)
from ccharmony.export._source import SourceDataset, SourceSample, read_source

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["IMAGE_COLUMNS", "export_hf", "hf_card"]

IMAGE_COLUMNS = ("composite", "mask", "real")
"""The Image feature columns, first in every row."""

_ROW_GROUP = 100
"""Rows per Parquet row group: what ``datasets`` itself uses for image data."""

_CARRIED_KEYS = ("license", "license_name", "license_link", "language", "pretty_name", "task_categories",
                 "task_ids", "tags", "size_categories", "annotations_creators", "source_datasets")
"""Keys of the source card's YAML kept in the export's card (the rest describe the folder itself)."""


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "--format hf needs the Hugging Face 'datasets' package: pip install 'ccharmony[hf]'"
        ) from None
    return datasets


def _features(source: SourceDataset, datasets: Any) -> Any:
    """Return the ``datasets.Features`` of the export: three images, then the metadata columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if source.metadata is not None:
        schema = pq.read_schema(source.metadata)
    else:
        schema = pa.schema([(column, pa.int64() if column == "k" else pa.string()) for column in source.columns])
    metadata = datasets.Features.from_arrow_schema(schema.remove_metadata())
    clash = [column for column in IMAGE_COLUMNS if column in metadata]
    if clash:
        raise DatasetError(f"{source.metadata}: columns {clash} clash with the export's image columns")
    return datasets.Features({**{column: datasets.Image() for column in IMAGE_COLUMNS}, **metadata})


def _row(sample: SourceSample, columns: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "composite": {"bytes": sample.composite.read_bytes(), "path": sample.name},
        "mask": {"bytes": sample.mask.read_bytes(), "path": sample.mask.name},
        "real": {"bytes": sample.real.read_bytes(), "path": sample.real.name},
    }
    row.update({column: sample.row.get(column) for column in columns})
    return row


def _front_matter(text: str) -> dict[str, Any]:
    if not text.startswith("---"):
        return {}
    parts = text.split("\n---", 1)
    try:
        loaded = yaml.safe_load(parts[0].removeprefix("---"))
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def hf_card(source: SourceDataset, shards: dict[str, int], *, name: str) -> str:
    """
    Return the export's ``README.md``: YAML front matter with ``configs``, then a short body.

    Parameters
    ----------
    source
        The dataset read by :func:`ccharmony.export._source.read_source`.
    shards
        Parquet shards per split.
    name
        The dataset's name (``pretty_name`` unless the source card gives one).

    Returns
    -------
    str
        The card; the YAML keeps the descriptive keys of the source card
        (licence, task categories, tags) and declares one ``default`` config
        whose ``data_files`` give each split its shards
        (``data/<split>-*.parquet``).
    """
    card = source.provenance.get(CARD_FILE)
    front = _front_matter(card.read_text(encoding="utf-8")) if card is not None else {}
    meta: dict[str, Any] = {key: front[key] for key in _CARRIED_KEYS if key in front}
    meta.setdefault("license", "other")
    meta.setdefault("pretty_name", name)
    meta["configs"] = [{
        "config_name": "default",
        "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in SPLITS],
    }]
    counts = source.counts()
    table = "\n".join(f"| {split} | {counts[split]} | {shards[split]} |" for split in SPLITS)
    provenance = (f"The source dataset's own card is [{CARD_FILE}]({CARD_FILE}).\n"
                  if card is not None else "")
    body = (
        f"# {name}\n\n"
        f"An image-harmonization dataset exported by ccharmony {__version__} (`ccharmony export --format hf`). "
        "One row per composite: `composite`, `mask` and `real` are images (the source files' own bytes, "
        "not re-encoded), the other columns are the source's `metadata.parquet`.\n\n"
        "```python\nfrom datasets import load_dataset\n\nds = load_dataset(\"path/to/this/folder\")  "
        "# {'train': ..., 'test': ...}\n```\n\n"
        f"| split | composites | shards |\n|---|---|---|\n{table}\n\n"
        f"{provenance}"
    )
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def export_hf(
    folder: PathType,
    out: PathType,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
    name: str | None = None,
) -> ExportResult:
    """
    Export a dataset folder as a Hugging Face dataset (Parquet shards + card).

    Parameters
    ----------
    folder
        The dataset folder.
    out
        The export folder; it must not exist or be empty, and lie outside
        ``folder``.
    shard_size
        Composites per Parquet file (>= 1); each split has at least one file.
    name
        The dataset's name in the card; default: the name from its lists.

    Returns
    -------
    ExportResult
        ``load`` is the ``datasets.load_dataset`` call.

    Raises
    ------
    ConfigError
        ``shard_size`` below 1, or the ``datasets`` package is missing
        (``pip install 'ccharmony[hf]'``).
    DatasetError
        As :func:`ccharmony.export._source.read_source`, or ``out`` overlaps
        the dataset or is not empty.

    References
    ----------
    :cite:`Lhoest2021`
    """
    if int(shard_size) < 1:
        raise ConfigError(f"--shard-size must be at least 1, got {shard_size}")
    datasets = _import_datasets()
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = read_source(folder)
    target = check_out(source.root, out)
    features = _features(source, datasets)
    schema = features.arrow_schema
    columns = tuple(column for column in features if column not in IMAGE_COLUMNS)
    shards: dict[str, int] = {}
    with staged_output(target) as staging:
        (staging / "data").mkdir()
        for split in SPLITS:
            samples = source.samples[split]
            count = max(1, math.ceil(len(samples) / int(shard_size)))
            shards[split] = count
            for shard in range(count):
                chunk = samples[shard * int(shard_size): (shard + 1) * int(shard_size)]
                path = staging / "data" / f"{split}-{shard:05d}-of-{count:05d}.parquet"
                # One row group at a time: memory holds _ROW_GROUP rows of image bytes, not a shard.
                with pq.ParquetWriter(path, schema) as writer:
                    for start in range(0, max(1, len(chunk)), _ROW_GROUP):
                        rows = [_row(sample, columns) for sample in chunk[start: start + _ROW_GROUP]]
                        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        placer = FilePlacer()
        for relative, path in source.provenance.items():
            placer.place(path, staging / relative)
        write_text(staging / "README.md", hf_card(source, shards, name=name or source.name))
    return ExportResult(format="hf", out=target, samples=source.counts(), shards=shards,
                        load=f'datasets.load_dataset("{target}")')
