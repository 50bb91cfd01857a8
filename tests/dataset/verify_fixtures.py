"""Tiny synthetic dataset folders for the verify tests (and the verify benchmark).

:func:`write_dataset` writes a folder that honours ARCHITECTURE.md section 6 and
ccharmony/dataset/layout.py with cv2 and pandas directly: textured real images
(JPEG), rectangular masks (PNG), composites made from the *decoded* real image
with per-channel gains inside the mask, split lists, metadata.parquet, build.json
and DATASET_CARD.md. The transfer column holds ``{"domain": "gains", "gains": [r, g, b]}``
and :func:`reapply_gains` re-applies it (a stand-in for the builder's records).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ccharmony.dataset.layout import (
    BUILD_FILE,
    CARD_FILE,
    COMPOSITE_DIR,
    MASK_DIR,
    METADATA_FILE,
    REAL_DIR,
    composite_name,
    list_file_name,
    mask_name,
    real_name,
)

GAINS = ((1.25, 1.0, 0.8), (0.8, 1.0, 1.2), (1.1, 0.85, 1.0), (0.9, 1.15, 0.9))


def textured_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A BGR uint8 image with smooth structure, fine noise and a few hard edges (distinct per seed)."""
    coarse = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    image += rng.normal(0.0, 6.0, image.shape)
    for _ in range(3):
        x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(0, height - 8))
        cv2.rectangle(image, (x0, y0), (x0 + width // 6, y0 + height // 6),
                      [float(v) for v in rng.integers(0, 256, 3)], -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buffer.tobytes()


def png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def apply_gains(real_bgr: np.ndarray, foreground: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """Composite in BGR: gains are given in RGB order."""
    out = real_bgr.copy()
    scaled = real_bgr.astype(np.float32) * np.array(gains[::-1], dtype=np.float32)
    out[foreground] = np.clip(np.rint(scaled[foreground]), 0, 255).astype(np.uint8)
    return out


def reapply_gains(real_rgb: np.ndarray, mask: np.ndarray, record: dict[str, Any]) -> np.ndarray:
    """Stand-in for ccharmony.dataset.reapply.reapply_transfer for the fixture's records (RGB in, RGB out)."""
    foreground = np.asarray(mask) > 0
    out = np.asarray(real_rgb, dtype=np.uint8).copy()
    scaled = out.astype(np.float32) * np.array(record["gains"], dtype=np.float32)
    out[foreground] = np.clip(np.rint(scaled[foreground]), 0, 255).astype(np.uint8)
    return out


def write_dataset(
    root: Path,
    *,
    n_images: int = 4,
    foregrounds: int = 1,
    k: int = 2,
    height: int = 64,
    width: int = 96,
    quality: int = 95,
    real_quality: int | None = None,
    seed: int = 0,
    metadata: bool = True,
    name: str = "Synth",
    composite_extension: str = ".jpg",
    from_original: bool = False,
) -> Path:
    """
    Write a small valid dataset folder; the first half of the images go to train, the rest to test.

    Composites are made from the decoded real image, or with ``from_original`` from the
    image before its JPEG encoding (the two ways a builder may work).
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for folder in (REAL_DIR, MASK_DIR, COMPOSITE_DIR):
        (root / folder).mkdir(exist_ok=True)
    real_quality = quality if real_quality is None else real_quality
    rows: list[dict[str, Any]] = []
    split_names: dict[str, list[str]] = {"train": [], "test": []}

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for index in range(n_images):
        identifier = f"Cam{index % 2}-{index:04d}"
        split = "train" if index < max(1, n_images // 2) else "test"
        original = textured_image(rng, height, width)
        real_path = root / REAL_DIR / real_name(identifier)
        real_path.write_bytes(jpeg(original, real_quality))
        real = cv2.imread(str(real_path), cv2.IMREAD_COLOR)
        for f in range(foregrounds):
            foreground_id = "abcdefgh"[f]
            mask = np.zeros((height, width), np.uint8)
            top, left = int(rng.integers(2, height // 3)), int(rng.integers(2, width // 3))
            mask[top:top + height // 3, left:left + width // 4] = 255
            mask_path = root / MASK_DIR / mask_name(identifier, foreground_id)
            mask_path.write_bytes(png(mask))
            for j in range(1, k + 1):
                gains = GAINS[(index + f + j) % len(GAINS)]
                composite = apply_gains(original if from_original else real, mask > 0, gains)
                file = composite_name(identifier, foreground_id, j, extension=composite_extension)
                path = root / COMPOSITE_DIR / file
                path.write_bytes(png(composite) if composite_extension == ".png" else jpeg(composite, quality))
                split_names[split].append(file)
                rows.append({
                    "composite_file_name": f"{COMPOSITE_DIR}/{file}",
                    "real_file_name": f"{REAL_DIR}/{real_name(identifier)}",
                    "mask_file_name": f"{MASK_DIR}/{mask_name(identifier, foreground_id)}",
                    "image_id": identifier, "foreground_id": foreground_id, "k": j, "split": split,
                    "source_image": identifier.replace("-", "_"), "target_image": f"T{j}",
                    "source_camera": identifier.split("-")[0], "target_camera": "Cam9",
                    "source_illuminant": [0.5, 0.7, 0.5], "target_illuminant": [0.6, 0.6, 0.5],
                    "source_illuminant_srgb": [0.5, 0.7, 0.5], "target_illuminant_srgb": [0.6, 0.6, 0.5],
                    "illuminant_angle_deg": 3.0 + 2.5 * j, "method": "gains",
                    "foreground_ratio": float((mask > 0).mean()), "width": width, "height": height,
                    "composite_sha256": sha(path), "real_sha256": sha(real_path), "mask_sha256": sha(mask_path),
                    "transfer": json.dumps({"domain": "gains", "gains": list(gains)}),
                })
    for split, names in split_names.items():
        (root / list_file_name(name, split)).write_text("".join(f"{n}\n" for n in names))
    if metadata:
        import pandas as pd

        pd.DataFrame(rows).to_parquet(root / METADATA_FILE, index=False)
        counts = {"images": n_images, "foregrounds": n_images * foregrounds, "composites": len(rows),
                  "splits": {split: len(names) for split, names in split_names.items()}}
        (root / BUILD_FILE).write_text(json.dumps({"counts": counts, "config": {}, "seed": seed, "skipped": []}))
        (root / CARD_FILE).write_text(
            "---\npretty_name: Synth\ndataset_info:\n  splits:\n"
            + "".join(f"  - name: {split}\n    num_examples: {len(names)}\n" for split, names in split_names.items())
            + "---\n# Synth\n")
    return root
