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
-   :class:`EpochSampler`, :func:`make_loader`: deterministic shuffling.

Layout (``ARCHITECTURE.md`` section 6): ``real_images/<id>.jpg``,
``masks/<id>_<fg>.png``, ``composite_images/<id>_<fg>_<k>.jpg`` and
``<Name>_train.txt`` / ``<Name>_test.txt`` listing composite paths relative to
the folder. A list line may also be a bare file name (the original iHarmony4
lists) or carry a subset prefix (``HCOCO/composite_images/...``). The real image
of ``a_b_c.jpg`` is ``a.jpg`` and its mask ``a_b.png`` (iSSAM convention).

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ccharmony._types import NDArrayBool, NDArrayUInt8, PathType
from ccharmony.errors import ConfigError, DatasetError, UnreadableImageError

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
"""Split names; a split's list files are ``*_<split>.txt`` in the folder."""

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
        Absolute paths.
    """

    name: str
    composite: Path
    real: Path
    mask: Path


def read_split(folder: PathType, split: str) -> list[str]:
    """
    Return the composite paths listed for a split, relative to the folder.

    Parameters
    ----------
    folder
        Dataset folder in the iHarmony4 layout.
    split
        ``"train"`` or ``"test"``; every ``*_<split>.txt`` (or
        ``*<split>.txt``) file is read, in sorted order.

    Returns
    -------
    list of str
        Paths such as ``"composite_images/a_1_1.jpg"``; bare names from the
        original iHarmony4 lists get the ``composite_images/`` prefix.

    Raises
    ------
    DatasetError
        When the folder or the list is missing or empty.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    # "<Name>_train.txt" (iHarmony4) and "<Name>train.txt" are both accepted.
    lists = sorted(root.glob(f"*{split}.txt"))
    if not lists:
        raise DatasetError(f"{root}: no *_{split}.txt list (iHarmony4 layout expected)")
    paths: list[str] = []
    for list_path in lists:
        for line in list_path.read_text(encoding="utf-8").splitlines():
            line = line.strip().replace("\\", "/")
            if not line or line.startswith("#"):
                continue
            if "/" not in line:
                line = f"composite_images/{line}"
            paths.append(line)
    if not paths:
        raise DatasetError(f"{lists[0]}: the {split} list is empty")
    return paths


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
    return SamplePaths(
        name=relative.stem,
        composite=root / relative,
        real=real,
        mask=base / "masks" / f"{image_id}_{foreground}.png",
    )


def read_rgb(path: PathType) -> NDArrayUInt8:
    """
    Decode an 8-bit image file as RGB.

    Parameters
    ----------
    path
        JPEG or PNG file.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8, RGB order.

    Raises
    ------
    UnreadableImageError
        When the file is missing or cannot be decoded.

    Notes
    -----
    Range: 8-bit sRGB, [0, 255]; 16-bit files are scaled to 8 bits.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise UnreadableImageError(f"{path}: cannot read ({error.strerror or error})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UnreadableImageError(f"{path}: not a decodable image (empty, truncated or corrupt)")
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    return np.ascontiguousarray(image[..., ::-1])


def read_mask(path: PathType) -> NDArrayBool:
    """
    Decode a mask file; values above 127 (of 255) are foreground.

    Parameters
    ----------
    path
        PNG (or any 8-bit image) mask; colour masks are converted to grey.

    Returns
    -------
    ndarray
        ``(H, W)`` bool.

    Raises
    ------
    UnreadableImageError
        When the file is missing or cannot be decoded.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise UnreadableImageError(f"{path}: cannot read ({error.strerror or error})") from None
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        raise UnreadableImageError(f"{path}: not a decodable mask (empty, truncated or corrupt)")
    if mask.dtype == np.uint16:
        return mask > 32767
    return mask > 127


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


class HarmonizationDataset(Dataset):
    """
    Serve samples of a dataset folder as dicts of tensors.

    Parameters
    ----------
    folder
        Dataset folder in the iHarmony4 layout.
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
        Keep decoded files in memory (the small datasets of this project fit).
    limit
        Use only the first ``limit`` composites of the list.
    illuminant_jitter
        Training only: multiply the composite and the real image of a sample
        by the same random per-channel gains ``exp(U(-j, j))`` (clipped to
        [0, 1]), a global change of the scene's illumination that keeps the
        foreground's mismatch. Our addition to the field's augmentation (0
        disables it): with a dozen training scenes it stops the network from
        memorising each scene's colours.

    Notes
    -----
    A sample is ``{"images": (3, S, S) float32 composite in [0, 1],
    "masks": (1, S, S) float32 {0, 1}, "target_images": (3, S, S) real image
    in [0, 1], "index": int}``; :attr:`names` gives the composite stems.
    """

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
    ) -> None:
        self.folder = Path(folder)
        self.illuminant_jitter = float(illuminant_jitter)
        self.split = split
        self.size = int(size)
        self.train = bool(train)
        self.seed = int(seed)
        self.cache = bool(cache)
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

    @property
    def names(self) -> list[str]:
        """Return the composite stems in list order."""
        return [paths.name for paths in self.paths]

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of an epoch (changes this object in place)."""
        self.epoch = int(epoch)

    def read(self, index: int) -> tuple[NDArrayUInt8, NDArrayUInt8, NDArrayBool]:
        """
        Return the decoded ``(composite, real, mask)`` of a sample, full size.

        Raises
        ------
        DatasetError
            When the three files disagree in size.
        UnreadableImageError
            When a file cannot be decoded.
        """
        if index in self._cache:
            return self._cache[index]
        paths = self.paths[index]
        composite = read_rgb(paths.composite)
        real = read_rgb(paths.real)
        mask = read_mask(paths.mask)
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

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        composite, real, mask = self.read(index)
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            top, left, height, width = random_resized_crop(mask.shape, rng)
            window = (slice(top, top + height), slice(left, left + width))
            composite, real, mask = resize_triplet(
                composite[window], real[window], mask[window], size=self.size
            )
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

    def __init__(self, dataset: HarmonizationDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Forward :meth:`HarmonizationDataset.set_epoch` (in place)."""
        self.dataset.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        sample = dict(self.dataset[index])
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
        Shuffle seed.
    drop_last
        Drop the last incomplete batch (training).
    num_workers
        Loader worker processes (0: load in the main process).
    rank, world_size
        Distributed training: this process's share of every epoch
        (:class:`EpochSampler`); ``batch_size`` is then the per-process batch.

    Returns
    -------
    DataLoader
        Its ``sampler`` has ``set_epoch``.
    """
    sampler = EpochSampler(len(dataset), seed=seed, shuffle=shuffle,  # type: ignore[arg-type]
                           rank=rank, world_size=world_size, drop_last=drop_last)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=_collate,
        persistent_workers=num_workers > 0,
    )
