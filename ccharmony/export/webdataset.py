"""
WebDataset export
=================

Write and read a dataset folder as WebDataset tar shards :cite:`Aizman2019`
for streaming training:

-   :func:`export_webdataset`: the shards and their index.
-   :func:`iter_webdataset`: the raw samples of shard files (bytes and
    metadata), with the standard library's :mod:`tarfile` only.
-   :class:`WebDatasetSamples`: a :class:`torch.utils.data.IterableDataset`
    yielding the samples our trainer's
    :class:`~ccharmony.harmonization.data.HarmonizationDataset` yields
    (``images``, ``masks``, ``target_images``, ``index``), from the shards.

Layout::

    OUT/train/train-000000.tar, ...   one sample per composite, in list order
    OUT/test/test-000000.tar, ...
    OUT/index.json                    {"format": "ccharmony-webdataset", "version": 1,
                                       "splits": {split: {"samples", "shards": [{"file", "samples"}],
                                                          "names": composite stems in list order}}}
    OUT/DATASET_CARD.md, build.json, card/

Each sample is four adjacent tar members sharing a key (the composite's file
stem, with ``%`` and ``.`` percent-encoded because WebDataset splits a member
name at its first dot): ``<key>.composite.jpg``, ``<key>.mask.png``,
``<key>.real.jpg`` (the files' own bytes; the extension is the sniffed
container) and ``<key>.json`` (the metadata row, plus ``index``, the
composite's position in its split list). Members carry no time stamp, owner or
mode bits from the source, so the same dataset always gives the same bytes.

References
----------
-   :cite:`Aizman2019` : Aizman, A., Maltby, G., & Breuel, T. (2019). High
    Performance I/O For Large Scale Deep Learning. IEEE International
    Conference on Big Data 2019. arXiv:2001.01858
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import io
import json
import math
import re
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ccharmony._types import PathType
from ccharmony.dataset.layout import SPLITS
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.export._links import (
    DEFAULT_SHARD_SIZE,
    ExportResult,
    FilePlacer,
    check_out,
    staged_output,
    write_text,
)
from ccharmony.export._source import SourceSample, read_source, resolve_inside
from ccharmony.io.encode import decode_image, decode_mask
from ccharmony.io.sniff import sniff_container

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "INDEX_FILE",
    "INDEX_FORMAT",
    "SAMPLE_FIELDS",
    "export_webdataset",
    "iter_webdataset",
    "read_index",
    "WebDatasetSamples",
]

INDEX_FILE = "index.json"
INDEX_FORMAT = "ccharmony-webdataset"
SAMPLE_FIELDS = ("composite", "mask", "real", "json")
"""The members of every sample, by the part of the member name after the key."""

_MEMBER = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # WebDataset's own split: key up to the first dot


def _encode_key(stem: str) -> str:
    """Return a tar key without dots (WebDataset cuts at the first one).

    >>> _encode_key("IMG-0.5_a_1")
    'IMG-0%2E5_a_1'
    """
    return stem.replace("%", "%25").replace(".", "%2E")


def _extension(data: bytes, path: Path) -> str:
    kind = sniff_container(data[:16])
    return {"jpeg": "jpg", "png": "png"}.get(kind, path.suffix.lower().lstrip(".") or "bin")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _sample_json(sample: SourceSample) -> bytes:
    record = dict(sample.row)
    record["index"] = sample.index
    record["split"] = sample.split
    return json.dumps(record, ensure_ascii=False, allow_nan=False, sort_keys=False).encode("utf-8")


def _write_shard(path: Path, samples: Iterable[SourceSample]) -> None:
    """Write one shard (inside the staging folder: the export appears whole or not at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for sample in samples:
                key = _encode_key(sample.key)
                for field, source in (("composite", sample.composite), ("mask", sample.mask),
                                      ("real", sample.real)):
                    data = source.read_bytes()
                    _add(tar, f"{key}.{field}.{_extension(data, source)}", data)
                _add(tar, f"{key}.json", _sample_json(sample))
    except OSError as error:
        raise DatasetError(f"{path}: cannot write the shard ({error.strerror or error})") from None


def export_webdataset(
    folder: PathType,
    out: PathType,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
    name: str | None = None,
) -> ExportResult:
    """
    Export a dataset folder as WebDataset tar shards.

    Parameters
    ----------
    folder
        The dataset folder.
    out
        The export folder; it must not exist or be empty, and lie outside
        ``folder``.
    shard_size
        Samples per shard (>= 1).
    name
        Recorded in ``index.json``; default: the name from the lists.

    Returns
    -------
    ExportResult
        ``load`` is the :class:`webdataset.WebDataset` call for the train
        split.

    Raises
    ------
    ConfigError
        ``shard_size`` below 1.
    DatasetError
        As :func:`ccharmony.export._source.read_source`, or ``out`` overlaps
        the dataset or is not empty.

    References
    ----------
    :cite:`Aizman2019`
    """
    if int(shard_size) < 1:
        raise ConfigError(f"--shard-size must be at least 1, got {shard_size}")
    size = int(shard_size)
    source = read_source(folder)
    target = check_out(source.root, out)
    index: dict[str, Any] = {"format": INDEX_FORMAT, "version": 1, "name": name or source.name,
                             "fields": list(SAMPLE_FIELDS), "splits": {}}
    with staged_output(target) as staging:
        for split in SPLITS:
            samples = source.samples[split]
            shards = []
            for shard in range(math.ceil(len(samples) / size)):
                chunk = samples[shard * size: (shard + 1) * size]
                relative = f"{split}/{split}-{shard:06d}.tar"
                _write_shard(staging / relative, chunk)
                shards.append({"file": relative, "samples": len(chunk)})
            index["splits"][split] = {"samples": len(samples), "shards": shards,
                                      "names": [sample.key for sample in samples]}
        placer = FilePlacer()
        for relative, path in source.provenance.items():
            placer.place(path, staging / relative)
        write_text(staging / INDEX_FILE, json.dumps(index, indent=1) + "\n")
    counts = {split: len(index["splits"][split]["shards"]) for split in SPLITS}
    last = max(counts["train"] - 1, 0)
    return ExportResult(
        format="webdataset", out=target, samples=source.counts(), shards=counts,
        load=f'webdataset.WebDataset("{target}/train/train-{{000000..{last:06d}}}.tar", shardshuffle=False)',
    )


def read_index(folder: PathType) -> dict[str, Any]:
    """
    Read and check a WebDataset export's ``index.json``.

    Raises
    ------
    DatasetError
        When the file is missing or unreadable, is not a ccharmony WebDataset
        index, or names a shard outside the folder.
    """
    root = Path(folder)
    path = root / INDEX_FILE
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: not a readable WebDataset index ({error}); "
                           "expected the folder written by ccharmony export --format webdataset") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or not isinstance(index.get("splits"), dict):
        raise DatasetError(f"{path}: not a {INDEX_FORMAT} index (format {index.get('format')!r})"
                           if isinstance(index, dict) else f"{path}: not a {INDEX_FORMAT} index")
    resolved_root = root.resolve()
    for split, entry in index["splits"].items():
        for shard in entry.get("shards", []):
            resolve_inside(resolved_root, str(shard.get("file", "")), what=f"{path} ({split} shard)")
    return index


def iter_webdataset(shards: Iterable[PathType]) -> Iterator[dict[str, Any]]:
    """
    Yield the samples of WebDataset tar shards, in file order.

    Parameters
    ----------
    shards
        Tar files (plain or compressed).

    Yields
    ------
    dict
        ``{"__key__": str, "__url__": str, "composite": bytes, "mask": bytes,
        "real": bytes, "json": dict}``; the key as stored (percent-encoded).

    Raises
    ------
    DatasetError
        When a shard cannot be read, or a sample lacks one of
        :data:`SAMPLE_FIELDS`. Members are only read, never extracted, so
        their names cannot write anywhere.
    """
    for shard in shards:
        url = str(shard)
        current: dict[str, Any] | None = None
        try:
            with tarfile.open(url, mode="r|*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    match = _MEMBER.match(member.name)
                    if match is None:
                        continue
                    key, suffix = match.group(1), match.group(2)
                    if current is not None and current["__key__"] != key:
                        yield _complete(current)
                        current = None
                    if current is None:
                        current = {"__key__": key, "__url__": url}
                    handle = tar.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    field = suffix.split(".", 1)[0].lower()
                    current[field] = json.loads(data) if field == "json" else data
            if current is not None:
                yield _complete(current)
        except (OSError, tarfile.TarError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(f"{url}: unreadable WebDataset shard ({type(error).__name__}: {error})") from None


def _complete(sample: dict[str, Any]) -> dict[str, Any]:
    missing = [field for field in SAMPLE_FIELDS if field not in sample]
    if missing:
        raise DatasetError(f"{sample['__url__']}: sample {sample['__key__']!r} lacks {missing}")
    return sample


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


class WebDatasetSamples(IterableDataset):
    """
    Stream a WebDataset export as our trainer's samples.

    Parameters
    ----------
    folder
        The export folder (with ``index.json``).
    split
        ``"train"`` or ``"test"``.
    size
        Side of the square samples in pixels.
    train
        Augment as :class:`~ccharmony.harmonization.data.HarmonizationDataset`
        does (random resized crop, scale 0.5-1, horizontal flip) and shuffle
        the shard order per epoch; resize only, in list order, when False.
    seed
        Seed of the augmentation and shuffles; sample ``i`` of epoch ``e``
        draws from ``default_rng((seed, e, i))`` with ``i`` its position in the
        split list, exactly as the folder dataset, so the same sample gets the
        same crop from either source.
    illuminant_jitter
        As :class:`~ccharmony.harmonization.data.HarmonizationDataset`.
    shuffle_buffer
        Training only: samples held in a buffer and drawn at random (0: no
        buffer; the shard order is still shuffled).
    rank, world_size
        Distributed training: this process reads shards ``rank::world_size``
        (the split should have at least ``world_size`` shards); DataLoader
        workers then split this process's shards among themselves.

    Notes
    -----
    A sample is ``{"images": (3, S, S) float32 composite in [0, 1], "masks":
    (1, S, S) float32 {0, 1}, "target_images": (3, S, S) real image in [0, 1],
    "index": int}``, the keys and scales of the folder dataset (iSSAM's batch
    contract :cite:`Sofiiuk2021`). ``len()`` is the number of samples this
    process reads in an epoch.
    """

    def __init__(
        self,
        folder: PathType,
        split: str,
        *,
        size: int = 256,
        train: bool = False,
        seed: int = 0,
        illuminant_jitter: float = 0.0,
        shuffle_buffer: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__()
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"WebDatasetSamples: need 0 <= rank < world_size, got {rank}, {world_size}")
        self.folder = Path(folder)
        index = read_index(self.folder)
        entry = index["splits"].get(split)
        if entry is None:
            raise DatasetError(f"{self.folder / INDEX_FILE}: no {split!r} split")
        shards = [(self.folder / shard["file"], int(shard["samples"])) for shard in entry["shards"]]
        self.shards: list[tuple[Path, int]] = shards[rank::world_size]
        self._names: list[str] = [str(name) for name in entry.get("names", [])]
        self.split = split
        self.size = int(size)
        self.train = bool(train)
        self.seed = int(seed)
        self.illuminant_jitter = float(illuminant_jitter)
        self.shuffle_buffer = int(shuffle_buffer)
        self.rank = int(rank)
        self.epoch = 0

    def __len__(self) -> int:
        return sum(count for _, count in self.shards)

    @property
    def names(self) -> list[str]:
        """Return the composite stems of the whole split in list order (sample ``index`` -> name)."""
        return list(self._names)

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffles and augmentation draws of an epoch (changes this object in place)."""
        self.epoch = int(epoch)

    def _my_shards(self) -> list[Path]:
        paths = [path for path, _ in self.shards]
        if self.train:
            order = np.random.default_rng((self.seed, self.epoch, self.rank)).permutation(len(paths))
            paths = [paths[i] for i in order]
        worker = get_worker_info()
        if worker is not None:
            paths = paths[worker.id :: worker.num_workers]
        return paths

    def __iter__(self) -> Iterator[dict[str, torch.Tensor | int]]:
        stream = (self.sample(raw) for raw in iter_webdataset(self._my_shards()))
        if not (self.train and self.shuffle_buffer > 0):
            yield from stream
            return
        worker = get_worker_info()
        rng = np.random.default_rng((self.seed, self.epoch, self.rank, worker.id if worker else 0, 1))
        buffer: list[dict[str, torch.Tensor | int]] = []
        for item in stream:
            buffer.append(item)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(int(rng.integers(len(buffer))))
        while buffer:
            yield buffer.pop(int(rng.integers(len(buffer))))

    def sample(self, raw: dict[str, Any]) -> dict[str, torch.Tensor | int]:
        """
        Turn one raw sample of :func:`iter_webdataset` into tensors.

        Raises
        ------
        DatasetError
            When the mask and the composite differ in size.
        UnreadableImageError
            When a member cannot be decoded.
        """
        from ccharmony.harmonization.data import random_resized_crop, resize_triplet

        label = f"{raw['__url__']}:{raw['__key__']}"
        composite: np.ndarray = decode_image(raw["composite"], name=f"{label}.composite")
        if composite.ndim == 2:
            composite = np.repeat(composite[..., None], 3, axis=2)
        real: np.ndarray = decode_image(raw["real"], name=f"{label}.real")
        if real.ndim == 2:
            real = np.repeat(real[..., None], 3, axis=2)
        mask = decode_mask(raw["mask"], name=f"{label}.mask")
        if real.shape != composite.shape:
            real = cv2.resize(real, (composite.shape[1], composite.shape[0]), interpolation=cv2.INTER_LINEAR)
        if mask.shape != composite.shape[:2]:
            raise DatasetError(
                f"{label}: mask is {mask.shape[1]}x{mask.shape[0]} but the composite is "
                f"{composite.shape[1]}x{composite.shape[0]}"
            )
        index = int(raw["json"].get("index", 0))
        jitter: torch.Tensor | None = None
        if not self.train:
            composite, real, mask = resize_triplet(composite, real, mask, size=self.size)
        else:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            top, left, height, width = random_resized_crop(mask.shape, rng)
            window = (slice(top, top + height), slice(left, left + width))
            composite, real, mask = resize_triplet(composite[window], real[window], mask[window], size=self.size)
            if rng.random() < 0.5:
                composite, real, mask = composite[:, ::-1], real[:, ::-1], mask[:, ::-1]
            if self.illuminant_jitter > 0:
                gains = np.exp(rng.uniform(-self.illuminant_jitter, self.illuminant_jitter, 3))
                jitter = torch.from_numpy(gains.astype(np.float32))[:, None, None]
        images, target_images = _to_tensor(composite), _to_tensor(real)
        if jitter is not None:
            images = images.mul_(jitter).clamp_(0.0, 1.0)
            target_images = target_images.mul_(jitter).clamp_(0.0, 1.0)
        return {
            "images": images,
            "masks": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None],
            "target_images": target_images,
            "index": index,
        }
