"""
Harmonization data
==================

Read dataset folders in the iHarmony4 layout :cite:`Cong2020` for training and
evaluation:

-   :func:`read_split`: the composite paths of a ``train`` or ``test`` split.
-   :func:`sample_paths`: the composite, real and mask files of one composite.
-   :func:`read_rgb`, :func:`read_mask`: decoders (8-bit RGB, boolean mask).
-   :func:`resize_triplet`, :func:`random_resized_crop`: the geometry of the
    field's augmentation (random resized crop, scale 0.5-1, horizontal flip)
    and of its evaluation (resize to 256x256).
-   :class:`HarmonizationDataset`: a :class:`torch.utils.data.Dataset` of
    batches with the keys ``images``, ``masks`` and ``target_images``.
-   :class:`ReconstructionView`: the same samples with the real image as input
    (to pre-train the relation-distillation teacher).
-   :class:`EpochSampler`, :func:`make_loader`: deterministic shuffling, and
    a :class:`~torch.utils.data.DataLoader` with worker processes and pinned
    memory whose samples do not depend on the number of workers.

Layout (``ARCHITECTURE.md`` section 6): ``real_images/<id>.jpg``,
``masks/<id>_<fg>.png``, ``composite_images/<id>_<fg>_<k>.jpg`` and the split
lists, read by :func:`ccharmony.dataset.lists.read_split_list` in every
spelling (``<Name>train.txt``, ``<Name>_train.txt``, an iHarmony4 root with
``IHD_train.txt`` or with its four subset folders). The real image of
``a_b_c.jpg`` is ``a.jpg`` and its mask ``a_b.png`` (iSSAM convention), beside
the composite's ``composite_images/`` folder. Images are decoded through
:mod:`ccharmony.io` (regular files only, header size checked against
``max_pixels`` before decoding, truncated files refused), and every path stays
inside the dataset folder.

Training at scale: with ``cache_dir`` a training dataset reads its samples
from the on-disk cache of :mod:`ccharmony.harmonization.cache` (pre-resized,
memory-mapped), so its memory does not grow with the dataset.

References
----------
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ccharmony._types import NDArrayBool, NDArrayUInt8, PathType
from ccharmony.dataset.lists import read_split_list
from ccharmony.errors import ConfigError, DatasetError
from ccharmony.io.limits import DEFAULT_MAX_PIXELS

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "SPLITS",
    "SamplePaths",
    "read_split",
    "sample_paths",
    "read_rgb",
    "read_mask",
    "resize_triplet",
    "random_resized_crop",
    "HarmonizationDataset",
    "ReconstructionView",
    "EpochSampler",
    "make_loader",
]

SPLITS: tuple[str, ...] = ("train", "test")
"""Split names; a split's lists are found by :func:`ccharmony.dataset.lists.read_split_list`."""

_REAL_EXTENSIONS = (".jpg", ".png", ".jpeg", ".JPG", ".PNG")


@dataclass(frozen=True)
class SamplePaths:
    """
    Name the three files of one composite.

    Parameters
    ----------
    name
        Composite file stem, e.g. ``"a_1_2"`` (unique within a split list).
    composite, real, mask
        Paths (the dataset folder joined with the list's relative path).
    subset
        iHarmony4 subset folder (``"HCOCO"``), ``""`` for a single dataset.
    """

    name: str
    composite: Path
    real: Path
    mask: Path
    subset: str = ""


def read_split(folder: PathType, split: str) -> list[str]:
    """
    Return the composite paths listed for a split, relative to the folder.

    Parameters
    ----------
    folder
        Dataset folder in the iHarmony4 layout.
    split
        ``"train"`` or ``"test"``.

    Returns
    -------
    list of str
        Paths such as ``"composite_images/a_1_1.jpg"`` or
        ``"HCOCO/composite_images/c1_1_1.jpg"``; bare names get the
        ``composite_images/`` prefix.

    Raises
    ------
    DatasetError
        When the folder is missing, or its lists have a problem
        (:func:`ccharmony.dataset.lists.read_split_list`: none, conflicting,
        unreadable, a path out of the folder, a composite listed twice, empty).
    """
    return read_split_list(folder, split).checked().paths


def sample_paths(folder: PathType, composite: str) -> SamplePaths:
    """
    Return the composite, real and mask files of a composite path.

    Parameters
    ----------
    folder
        Dataset folder.
    composite
        Composite path relative to the folder, ``[<subset>/]composite_images/a_b_c.jpg``.

    Returns
    -------
    SamplePaths
        The real image is ``real_images/a.<jpg|png>`` and the mask
        ``masks/a_b.png`` beside ``composite_images``.

    Raises
    ------
    DatasetError
        When the name is not ``<id>_<fg>_<k>``.

    Examples
    --------
    >>> paths = sample_paths("/d", "composite_images/img7_1_3.jpg")
    >>> paths.name, paths.real.name, paths.mask.name
    ('img7_1_3', 'img7.jpg', 'img7_1.png')
    """
    root = Path(folder)
    relative = Path(composite)
    parts = relative.stem.rsplit("_", 2)
    if len(parts) != 3 or not all(parts):
        raise DatasetError(
            f"{root / relative}: composite name must be <id>_<fg>_<k>, got {relative.name!r}"
        )
    image_id, foreground, _ = parts
    base = root / relative.parent.parent
    real = base / "real_images" / f"{image_id}.jpg"
    if not real.exists():
        for extension in _REAL_EXTENSIONS:
            candidate = real.with_suffix(extension)
            if candidate.exists():
                real = candidate
                break
    subset = relative.parent.parent.as_posix()
    return SamplePaths(
        name=relative.stem,
        composite=root / relative,
        real=real,
        mask=base / "masks" / f"{image_id}_{foreground}.png",
        subset="" if subset == "." else subset,
    )


def read_rgb(path: PathType, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> NDArrayUInt8:
    """
    Decode an 8-bit image file as RGB.

    Parameters
    ----------
    path
        JPEG, PNG or TIFF file (a regular file; its header is read first).
    max_pixels
        Largest image decoded (:mod:`ccharmony.io.limits`).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8, RGB order (grey images repeated to three channels).

    Raises
    ------
    UnreadableImageError
        When the file is missing, not a regular file, truncated or cannot be
        decoded.
    ImageTooLargeError
        When its header declares more than ``max_pixels`` pixels.

    Notes
    -----
    Range: 8-bit sRGB, [0, 255]; 16-bit files are rounded to 8 bits.
    """
    from ccharmony.io.encode import decode_image

    image = decode_image(path, max_pixels=max_pixels)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image)


def read_mask(path: PathType, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> NDArrayBool:
    """
    Decode a mask file; values above 127 (of 255) of its first channel are foreground.

    Parameters
    ----------
    path
        PNG (or any 8-bit image) mask.
    max_pixels
        Largest image decoded (:mod:`ccharmony.io.limits`).

    Returns
    -------
    ndarray
        ``(H, W)`` bool.

    Raises
    ------
    UnreadableImageError
        When the file is missing, not a regular file or cannot be decoded.
    ImageTooLargeError
        When its header declares more than ``max_pixels`` pixels.
    """
    from ccharmony.io.encode import decode_mask

    return decode_mask(path, max_pixels=max_pixels)


def resize_triplet(
    composite: NDArrayUInt8, real: NDArrayUInt8, mask: NDArrayBool, *, size: int = 256
) -> tuple[NDArrayUInt8, NDArrayUInt8, NDArrayBool]:
    """
    Resize a composite, its real image and its mask to ``size x size``.

    Parameters
    ----------
    composite, real
        ``(H, W, 3)`` uint8 images.
    mask
        ``(H, W)`` bool.
    size
        Output side in pixels (the field evaluates at 256).

    Returns
    -------
    tuple
        Images resized with bilinear interpolation (aspect ratio not kept, as
        in the field) and the mask with nearest-neighbour interpolation.
    """
    shape = (size, size)
    return (
        _resize(composite, shape),
        _resize(real, shape),
        _resize_mask(mask, shape),
    )


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == shape:
        return image.copy()
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape[:2] == shape:
        return mask.copy()
    return cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def random_resized_crop(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
) -> tuple[int, int, int, int]:
    """
    Draw a crop ``(top, left, height, width)`` as torchvision's RandomResizedCrop.

    Parameters
    ----------
    shape
        ``(H, W)`` of the image.
    rng
        Random generator.
    scale
        Range of the crop area as a fraction of the image area.
    ratio
        Range of the crop aspect ratio (width / height), sampled log-uniformly.

    Returns
    -------
    tuple of int
        ``(top, left, height, width)``; the whole image after ten failed draws.
    """
    height, width = shape
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        crop_w = int(round(math.sqrt(target * aspect)))
        crop_h = int(round(math.sqrt(target / aspect)))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
            return top, left, crop_h, crop_w
    return 0, 0, height, width


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


def _split_key(key: int | tuple[int, int], epoch: int) -> tuple[int, int]:
    if isinstance(key, tuple):
        return int(key[0]), int(key[1])
    return epoch, int(key)


class HarmonizationDataset(Dataset):
    """
    Serve samples of a dataset folder as dicts of tensors.

    Parameters
    ----------
    folder
        Dataset folder in the iHarmony4 layout (or an iHarmony4 root).
    split
        ``"train"`` or ``"test"``.
    size
        Side of the square samples in pixels.
    train
        Augment as in the field (random resized crop, scale 0.5-1, horizontal
        flip with probability 0.5) when True; resize only when False.
    seed
        Seed of the augmentation; sample ``i`` of epoch ``e`` draws from
        ``default_rng((seed, e, i))``, so results do not depend on workers or
        on resuming.
    cache
        Keep decoded files in memory: evaluation keeps the resized triplets
        (``size x size``); training without ``cache_dir`` keeps full-size
        files, which only small datasets afford.
    limit
        Use only the first ``limit`` composites of the list.
    illuminant_jitter
        Training only: multiply the composite and the real image of a sample
        by the same random per-channel gains ``exp(U(-j, j))`` (clipped to
        [0, 1]), a global change of the scene's illumination that keeps the
        foreground's mismatch. Our addition to the field's augmentation (0
        disables it): with a dozen training scenes it stops the network from
        memorising each scene's colours.
    cache_dir
        Training only: folder of the on-disk training cache
        (:class:`~ccharmony.harmonization.cache.TrainingCache`); samples are
        then read from it (call :meth:`prepare` first) and nothing is kept in
        memory.
    min_side_factor
        With ``cache_dir``: cached samples keep a shorter side of at least
        ``min_side_factor x size`` (:func:`~ccharmony.harmonization.cache.cache_side`).
    max_pixels
        Largest image decoded (:mod:`ccharmony.io.limits`).
    cache_name
        With ``cache_dir``: names the dataset in the cache instead of its
        resolved path (:class:`~ccharmony.harmonization.cache.TrainingCache`).

    Raises
    ------
    DatasetError
        When the split's lists cannot be read, or (with ``cache_dir``) a listed
        file is missing or lies outside the folder.

    Notes
    -----
    A sample is ``{"images": (3, S, S) float32 composite in [0, 1],
    "masks": (1, S, S) float32 {0, 1}, "target_images": (3, S, S) real image
    in [0, 1], "index": int}``; :attr:`names` gives the composite stems.
    A key is an index (the augmentation of :attr:`epoch`) or ``(epoch,
    index)``, which the loader's sampler sends so that worker processes,
    which hold copies of the dataset, draw each epoch's augmentation.
    """

    accepts_epoch_keys = True
    """Keys may be ``(epoch, index)`` (:func:`make_loader` checks this)."""

    def __init__(
        self,
        folder: PathType,
        split: str,
        *,
        size: int = 256,
        train: bool = False,
        seed: int = 0,
        cache: bool = True,
        limit: int | None = None,
        illuminant_jitter: float = 0.0,
        cache_dir: PathType | None = None,
        min_side_factor: float = 2.0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        cache_name: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.illuminant_jitter = float(illuminant_jitter)
        self.split = split
        self.size = int(size)
        self.train = bool(train)
        self.seed = int(seed)
        self.cache = bool(cache)
        self.max_pixels = int(max_pixels)
        entries = read_split(self.folder, split)
        if limit is not None:
            entries = entries[: int(limit)]
        self.paths: list[SamplePaths] = [sample_paths(self.folder, entry) for entry in entries]
        for paths in self.paths[:1]:
            for path in (paths.composite, paths.real, paths.mask):
                if not path.exists():
                    raise DatasetError(f"{path}: listed in the {split} list but missing")
        self.epoch = 0
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.disk_cache = None
        if cache_dir is not None and self.train:
            from ccharmony.harmonization.cache import TrainingCache, cache_side

            self.disk_cache = TrainingCache(
                self.folder, [(p.composite, p.real, p.mask) for p in self.paths], cache_root=cache_dir,
                split=split, side=cache_side(self.size, min_side_factor), max_pixels=self.max_pixels,
                name=cache_name,
            )

    @property
    def names(self) -> list[str]:
        """Return the composite stems in list order."""
        return [paths.name for paths in self.paths]

    @property
    def subsets(self) -> list[str]:
        """Return each sample's iHarmony4 subset (``""`` for a single dataset), in list order."""
        return [paths.subset for paths in self.paths]

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of an epoch for integer keys (changes this object in place)."""
        self.epoch = int(epoch)

    def prepare(self, *, workers: int = 0, progress: bool = True) -> int:
        """
        Build the missing samples of the on-disk training cache (no-op without one).

        Returns
        -------
        int
            Samples written.
        """
        if self.disk_cache is None:
            return 0
        return self.disk_cache.build(workers=workers, progress=progress)

    def _checked(self, path: Path) -> Path:
        from ccharmony.io.paths import resolve_inside

        resolve_inside(self.folder, Path(path).relative_to(self.folder), what=f"file of the {self.split} split")
        return path

    def read(self, index: int) -> tuple[NDArrayUInt8, NDArrayUInt8, NDArrayBool]:
        """
        Return the decoded ``(composite, real, mask)`` of a sample.

        Full size for training, ``size x size`` for evaluation; from the
        on-disk cache (pre-resized) when the dataset has one.

        Raises
        ------
        DatasetError
            When the three files disagree in size or one lies outside the folder.
        UnreadableImageError
            When a file cannot be decoded.
        ImageTooLargeError
            When a header declares more than ``max_pixels`` pixels.
        """
        if self.disk_cache is not None:
            stacked = self.disk_cache.read(index)
            return (np.array(stacked[..., 0:3]), np.array(stacked[..., 3:6]), np.array(stacked[..., 6]) >= 128)
        if index in self._cache:
            return self._cache[index]
        paths = self.paths[index]
        composite = read_rgb(self._checked(paths.composite), max_pixels=self.max_pixels)
        real = read_rgb(self._checked(paths.real), max_pixels=self.max_pixels)
        mask = read_mask(self._checked(paths.mask), max_pixels=self.max_pixels)
        if real.shape != composite.shape:
            real = _resize(real, composite.shape[:2])
        if mask.shape != composite.shape[:2]:
            raise DatasetError(
                f"{paths.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but the composite is "
                f"{composite.shape[1]}x{composite.shape[0]}"
            )
        if not self.train:
            # Evaluation only ever needs the resized triplet: keep that.
            composite, real, mask = resize_triplet(composite, real, mask, size=self.size)
        item = (composite, real, mask)
        if self.cache:
            self._cache[index] = item
        return item

    def _train_crop(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the crop of sample ``index`` drawn from ``rng``, resized to ``size``."""
        if self.disk_cache is not None:
            # Copy only the crop out of the memory map (the rest is never read).
            stacked = self.disk_cache.read(index)
            top, left, height, width = random_resized_crop(stacked.shape[:2], rng)
            window = np.array(stacked[top:top + height, left:left + width])
            composite, real, mask = window[..., 0:3], window[..., 3:6], window[..., 6] >= 128
        else:
            composite, real, mask = self.read(index)
            top, left, height, width = random_resized_crop(mask.shape, rng)
            window_slices = (slice(top, top + height), slice(left, left + width))
            composite, real, mask = composite[window_slices], real[window_slices], mask[window_slices]
        return resize_triplet(composite, real, mask, size=self.size)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        epoch, index = _split_key(key, self.epoch)
        if self.train:
            rng = np.random.default_rng((self.seed, epoch, index))
            composite, real, mask = self._train_crop(index, rng)
            if rng.random() < 0.5:
                composite, real, mask = composite[:, ::-1], real[:, ::-1], mask[:, ::-1]
            if self.illuminant_jitter > 0:
                gains = np.exp(rng.uniform(-self.illuminant_jitter, self.illuminant_jitter, 3))
                gains_t = torch.from_numpy(gains.astype(np.float32))[:, None, None]
                return {
                    "images": _to_tensor(composite).mul_(gains_t).clamp_(0.0, 1.0),
                    "masks": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None],
                    "target_images": _to_tensor(real).mul_(gains_t).clamp_(0.0, 1.0),
                    "index": index,
                }
        else:
            composite, real, mask = self.read(index)
        return {
            "images": _to_tensor(composite),
            "masks": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None],
            "target_images": _to_tensor(real),
            "index": index,
        }


class ReconstructionView(Dataset):
    """
    Wrap a dataset so that the real image is also the input.

    Parameters
    ----------
    dataset
        A :class:`HarmonizationDataset`.

    Notes
    -----
    Used to pre-train the relation-distillation teacher (real + mask in, real
    out) :cite:`Niu2023`.
    """

    accepts_epoch_keys = True
    """Keys may be ``(epoch, index)``, as for :class:`HarmonizationDataset`."""

    def __init__(self, dataset: HarmonizationDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Forward :meth:`HarmonizationDataset.set_epoch` (in place)."""
        self.dataset.set_epoch(epoch)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        sample = dict(self.dataset[key])
        sample["images"] = sample["target_images"]
        return sample


class EpochSampler(Sampler[int]):
    """
    Shuffle indices with a permutation drawn from ``(seed, epoch)``.

    Parameters
    ----------
    length
        Number of samples.
    seed
        Seed; the order of epoch ``e`` is ``default_rng((seed, e)).permutation``.
    shuffle
        Keep the natural order when False.
    rank, world_size
        Distributed training: this process takes every ``world_size``-th index
        of the epoch's order from ``rank`` on, so that per-process batches of
        ``B / world_size`` together form the one-process batches of ``B``.
    drop_last
        With ``world_size > 1``: drop the tail that does not divide evenly
        (True) or repeat the first indices to fill it (False), so every
        process gets the same number of samples.
    """

    def __init__(self, length: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1, drop_last: bool = False) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"EpochSampler: need 0 <= rank < world_size, got {rank}, {world_size}")
        self.length = int(length)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 0
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.drop_last = bool(drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of an epoch (changes this object in place)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            order = list(range(self.length))
        else:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(self.length).tolist()
        if self.world_size == 1:
            return iter(order)
        if self.drop_last:
            order = order[: len(self) * self.world_size]
        else:
            order = (order * self.world_size)[: len(self) * self.world_size]
        return iter(order[self.rank :: self.world_size])

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.length
        if self.drop_last:
            return self.length // self.world_size
        return -(-self.length // self.world_size)


def _collate(samples: Sequence[dict]) -> dict[str, torch.Tensor]:
    batch: dict[str, torch.Tensor] = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples]
        batch[key] = torch.stack(values) if torch.is_tensor(values[0]) else torch.tensor(values)
    return batch


class _EpochKeys(Sampler):
    """Yield ``(epoch, index)`` keys of an :class:`EpochSampler` (for worker processes)."""

    def __init__(self, sampler: EpochSampler) -> None:
        self.sampler = sampler

    def set_epoch(self, epoch: int) -> None:
        """Forward :meth:`EpochSampler.set_epoch` (in place)."""
        self.sampler.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        """The epoch the keys carry."""
        return self.sampler.epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.sampler.epoch
        return ((epoch, index) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def seed_worker(worker_id: int) -> None:
    """
    Seed a loader worker's Python and NumPy generators from its torch seed.

    The torch seed of worker ``w`` is the loader generator's base seed plus
    ``w`` (PyTorch's rule), and :func:`make_loader` seeds that generator, so
    a run is reproducible for a given ``(seed, num_workers)``; the samples
    themselves draw from ``(seed, epoch, index)`` and do not depend on the
    workers at all.

    Notes
    -----
    OpenCV's thread count is left alone: ``cv2.setNumThreads`` in a forked
    worker, once the parent has used OpenCV's thread pool, waits forever in
    ``pthread_cond_destroy`` (seen with opencv-contrib-python-headless 5.0,
    pthreads backend, under ``gdb``), while OpenCV's own calls in the worker
    work. The crops a worker resizes are too small for OpenCV to split.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
    prefetch_factor: int | None = None,
) -> DataLoader:
    """
    Return a :class:`~torch.utils.data.DataLoader` with an :class:`EpochSampler`.

    Parameters
    ----------
    dataset
        Map-style dataset returning sample dicts.
    batch_size
        Samples per batch.
    shuffle
        Shuffle with the epoch-seeded permutation.
    seed
        Shuffle seed (and the seed of the workers' generators, :func:`seed_worker`).
    drop_last
        Drop the last incomplete batch (training).
    num_workers
        Loader worker processes (0: load in the main process). Workers are
        persistent; a dataset with ``accepts_epoch_keys`` receives ``(epoch,
        index)`` keys, so each epoch's augmentation reaches them without
        restarting them.
    rank, world_size
        Distributed training: this process's share of every epoch
        (:class:`EpochSampler`); ``batch_size`` is then the per-process batch.
    pin_memory
        Page-locked batches for asynchronous copies to a GPU (ask for it on
        CUDA only: on the CPU it costs a copy and gains nothing).
    prefetch_factor
        Batches each worker loads ahead (PyTorch's default 2 when ``None``).

    Returns
    -------
    DataLoader
        Its ``sampler`` has ``set_epoch``.

    Raises
    ------
    ConfigError
        When ``num_workers`` is negative.
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ConfigError(f"num_workers must be a whole number >= 0, got {num_workers!r}")
    sampler: Sampler = EpochSampler(len(dataset), seed=seed, shuffle=shuffle,  # type: ignore[arg-type]
                                    rank=rank, world_size=world_size, drop_last=drop_last)
    if getattr(dataset, "accepts_epoch_keys", False):
        sampler = _EpochKeys(sampler)  # type: ignore[arg-type]
    extra: dict = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "worker_init_fn": seed_worker}
        if prefetch_factor is not None:
            extra["prefetch_factor"] = int(prefetch_factor)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=bool(pin_memory),
        generator=torch.Generator().manual_seed(int(seed)),
        **extra,
    )
