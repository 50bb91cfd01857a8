"""
Synthetic dataset folders for the report's tests and benchmark
==============================================================

Write small dataset folders that follow the layout contract of
:mod:`ccharmony.dataset.layout` without running the builder, and benchmark
run folders in the shape ``ccharmony benchmark`` writes:

-   :func:`write_synthetic_dataset`: a dataset folder (images, masks,
    composites, lists, ``metadata.parquet``, ``build.json``).
-   :func:`write_synthetic_benchmark`: a benchmark run folder
    (``report.json``, ``per_image.csv``, ``predictions/<model>/<name>.png``).

The pictures are smooth gradients with an elliptical foreground whose colour
is scaled per channel by the ratio of two illuminants, so that the thumbnails
look like plausible composites. Nothing here is colour science; it exists so
that the report can be tested and timed before (and independently of) the
dataset builder.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ccharmony._types import PathType
from ccharmony.dataset import layout
from ccharmony.errors import DatasetError
from ccharmony.illuminant import angular_error

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["write_synthetic_dataset", "write_synthetic_benchmark"]


def _illuminant(rng: np.random.Generator) -> np.ndarray:
    # A Planckian-ish spread in camera RGB: red-blue trade-off plus a little noise.
    t = rng.uniform(-1.0, 1.0)
    RGB = np.array([0.45 + 0.25 * t, 0.75, 0.45 - 0.25 * t]) + rng.normal(0, 0.02, 3)
    RGB = np.clip(RGB, 0.05, None)
    return RGB / np.linalg.norm(RGB)


def write_synthetic_dataset(
    path: PathType,
    *,
    images: int = 4,
    foregrounds: int = 2,
    k: int = 3,
    size: tuple[int, int] = (96, 128),
    cameras: tuple[str, ...] = ("Canon5D", "Nikon-D810"),
    test_every: int = 4,
    name: str = "ccHarmony",
    metadata: bool = True,
    seed: int = 0,
) -> Path:
    """
    Write a synthetic dataset folder in the iHarmony4 layout.

    Parameters
    ----------
    path
        Folder to create (parents too); existing files are overwritten.
    images
        Number of real images; image ``i`` uses camera ``cameras[i % len]``
        and is in the test split when ``i % test_every == test_every - 1``.
    foregrounds
        Foregrounds (masks) per image, ids ``a``, ``b``, ...
    k
        Composites per foreground.
    size
        ``(height, width)`` of every image in pixels.
    cameras
        Camera names (no ``"_"``).
    test_every
        Period of the test split over images.
    name
        Dataset name, the prefix of the split lists (:func:`ccharmony.dataset.layout.list_file_name`).
    metadata
        Write ``metadata.parquet`` and ``build.json``; without them the folder
        looks like a third-party iHarmony4 dataset.
    seed
        Seed of the random generator.

    Returns
    -------
    Path
        The folder.

    Notes
    -----
    Target images cycle through the other images, across cameras too (a
    synthetic shortcut: the illuminants share one camera-RGB space here).
    """
    root = Path(path)
    rng = np.random.default_rng(seed)
    for folder in (layout.REAL_DIR, layout.MASK_DIR, layout.COMPOSITE_DIR):
        (root / folder).mkdir(parents=True, exist_ok=True)
    height, width = size
    ids = [f"{cameras[i % len(cameras)]}-IMG-{i:04d}" for i in range(images)]
    cams = [cameras[i % len(cameras)] for i in range(images)]
    illuminants = [_illuminant(rng) for _ in range(images)]
    rows_grid, cols_grid = np.mgrid[0:height, 0:width].astype(np.float32)
    reals = []
    for index, identifier in enumerate(ids):
        base = rng.uniform(60, 200, 3).astype(np.float32)
        slope = rng.uniform(-60, 60, (2, 3)).astype(np.float32)
        image = (base + rows_grid[..., None] / height * slope[0] + cols_grid[..., None] / width * slope[1])
        image = image * (illuminants[index] / illuminants[index].mean()).astype(np.float32)[::-1]
        image = np.clip(image, 0, 255)
        reals.append(image)
    records = []
    lists: dict[str, list[str]] = {split: [] for split in layout.SPLITS}
    for index, identifier in enumerate(ids):
        split = "test" if index % test_every == test_every - 1 else "train"
        others = [j for j in range(images) if j != index] or [index]
        masks = []
        real = reals[index]
        for f in range(foregrounds):
            centre = (int(rng.uniform(0.3, 0.7) * width), int(rng.uniform(0.3, 0.7) * height))
            axes = (int(rng.uniform(0.1, 0.3) * width), int(rng.uniform(0.1, 0.3) * height))
            mask = np.zeros((height, width), np.uint8)
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
            masks.append(mask)
            # Paint an object (with a little shading) into the real image under the mask.
            shade = 0.75 + 0.25 * (rows_grid / height)[..., None]
            object_ = rng.uniform(40, 230, 3).astype(np.float32) * shade
            real = np.where((mask > 0)[..., None], object_, real)
        cv2.imwrite(str(root / layout.REAL_DIR / layout.real_name(identifier)), real.astype(np.uint8))
        for f, mask in enumerate(masks):
            foreground = chr(ord("a") + f)
            cv2.imwrite(str(root / layout.MASK_DIR / layout.mask_name(identifier, foreground)), mask)
            inside = mask > 0
            for kk in range(1, k + 1):
                target = others[(f + kk - 1) % len(others)]
                gain = (illuminants[target] / illuminants[index])[::-1].astype(np.float32)
                composite = real.copy()
                composite[inside] = np.clip(composite[inside] * gain, 0, 255)
                file_name = layout.composite_name(identifier, foreground, kk)
                cv2.imwrite(str(root / layout.COMPOSITE_DIR / file_name), composite.astype(np.uint8))
                lists[split].append(file_name)
                records.append({
                    "composite_file_name": f"{layout.COMPOSITE_DIR}/{file_name}",
                    "real_file_name": f"{layout.REAL_DIR}/{layout.real_name(identifier)}",
                    "mask_file_name": f"{layout.MASK_DIR}/{layout.mask_name(identifier, foreground)}",
                    "image_id": identifier,
                    "foreground_id": foreground,
                    "k": kk,
                    "split": split,
                    "source_image": identifier,
                    "target_image": ids[target],
                    "source_camera": cams[index],
                    "target_camera": cams[target],
                    "source_illuminant": illuminants[index].tolist(),
                    "target_illuminant": illuminants[target].tolist(),
                    "source_illuminant_srgb": illuminants[index].tolist(),
                    "target_illuminant_srgb": illuminants[target].tolist(),
                    "illuminant_angle_deg": float(angular_error(illuminants[index], illuminants[target])),
                    "method": "diagonal",
                    "foreground_ratio": float(inside.mean()),
                    "width": width,
                    "height": height,
                    "composite_sha256": "",
                    "real_sha256": "",
                    "mask_sha256": "",
                    "transfer": json.dumps({"method": "diagonal", "gain": gain.tolist()}),
                })
    for split, lines in lists.items():
        (root / layout.list_file_name(name, split)).write_text("".join(line + "\n" for line in lines))
    if metadata:
        pd.DataFrame.from_records(records).to_parquet(root / layout.METADATA_FILE, index=False)
        counts = {split: len(lines) for split, lines in lists.items()}
        build = {
            "counts": {"images": images, "foregrounds": images * foregrounds, "composites": len(records),
                       "splits": counts,
                       "per_camera": {c: sum(r["source_camera"] == c for r in records) for c in sorted(set(cams))}},
            "config": {"name": name, "seed": seed, "pipeline": {"render": "fixed", "transfer": "diagonal",
                                                                "targets": k}},
            "versions": {"ccharmony": "synthetic", "numpy": np.__version__},
            "skipped": [{"file": "broken.CR2", "reason": "synthetic example of a skipped input"}],
        }
        (root / layout.BUILD_FILE).write_text(json.dumps(build, indent=2))
    return root


def write_synthetic_benchmark(
    path: PathType,
    dataset: PathType,
    *,
    models: tuple[str, ...] = ("composite", "GiftNet"),
    predictions: bool = True,
    seed: int = 0,
) -> Path:
    """
    Write a benchmark run folder for the test split of a dataset folder.

    Parameters
    ----------
    path
        Run folder to create.
    dataset
        Dataset folder written by :func:`write_synthetic_dataset`.
    models
        Model names; each gets one ``per_image.csv`` row per test composite.
    predictions
        Write ``predictions/<model>/<stem>.png`` (256x256).
    seed
        Seed of the random generator.

    Returns
    -------
    Path
        The run folder.

    Notes
    -----
    The files follow :func:`ccharmony.harmonization.report.write_report`:
    ``per_image.csv`` columns ``model, name, MSE, fMSE, PSNR, fPSNR, SSIM,
    fSSIM, foreground_ratio, foreground_ratio_group`` with ``name`` the
    composite's stem (no extension).
    Metrics are random but consistent: ``PSNR = 10 log10(255^2 / MSE)``.
    """
    run = Path(path)
    run.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for list_file in layout.find_split_lists(Path(dataset))["test"]:
        names += [line.strip() for line in list_file.read_text().splitlines() if line.strip()]
    rows = []
    for model_index, model in enumerate(models):
        for name in names:
            stem = Path(name).stem
            mse = float(rng.uniform(5, 400) / (1 + model_index))
            fmse = float(mse * rng.uniform(3, 12))
            ratio = float(rng.uniform(0.05, 0.4))
            rows.append({
                "model": model, "name": stem, "MSE": mse, "fMSE": fmse,
                "PSNR": float(10 * np.log10(255.0**2 / mse)), "fPSNR": float(10 * np.log10(255.0**2 / fmse)),
                "SSIM": float(rng.uniform(0.7, 0.99)), "fSSIM": float(rng.uniform(0.5, 0.95)),
                "foreground_ratio": ratio, "foreground_ratio_group": "5-15%" if ratio < 0.15 else "15-100%",
            })
            if predictions:
                folder = run / "predictions" / model
                folder.mkdir(parents=True, exist_ok=True)
                image = cv2.imread(str(Path(dataset) / layout.COMPOSITE_DIR / name))
                if image is None:
                    raise DatasetError(f"{Path(dataset) / layout.COMPOSITE_DIR / name}: cannot be decoded")
                image = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / f"{stem}.png"), image)
    frame = pd.DataFrame.from_records(rows)
    frame.to_csv(run / "per_image.csv", index=False)
    metrics = ("MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM")
    summary = {
        "note": "synthetic benchmark run (random metrics) for the report's tests",
        "conventions": "256x256, 0..255 values; fMSE over the mask; PSNR peak 255",
        "psnr_peak": "255",
        "meta": {"dataset": str(dataset)},
        "summary": {
            model: {"count": len(group), "metrics": {m: float(group[m].mean()) for m in metrics}}
            for model, group in frame.groupby("model", sort=False)
        },
    }
    (run / "report.json").write_text(json.dumps(summary, indent=2))
    return run
