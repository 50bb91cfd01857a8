"""Write tiny iHarmony4-layout dataset folders for the harmonization tests.

Each scene is a smooth random background with a textured rectangle; the real
image has one global colour cast and the composite's foreground gets a
different per-channel gain (in linear light), like an illuminant change.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def _srgb_decode(encoded: np.ndarray) -> np.ndarray:
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def write_toy_dataset(
    folder: Path,
    *,
    scenes: int = 8,
    composites_per_scene: int = 2,
    width: int = 64,
    height: int = 48,
    test_scenes: int = 2,
    seed: int = 0,
    bare_names: bool = False,
) -> Path:
    """Write a toy dataset folder and return it."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    for sub in ("real_images", "masks", "composite_images"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    train, test = [], []
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    for scene in range(scenes):
        image_id = f"scene{scene:03d}"
        base = rng.uniform(0.1, 0.6, 3)
        slope = rng.uniform(-0.3, 0.3, (2, 3))
        background = base + yy[..., None] * slope[0] + xx[..., None] * slope[1]
        background += rng.normal(0, 0.02, background.shape)
        mask = np.zeros((height, width), bool)
        h = int(rng.integers(height // 4, height // 2 + 1))
        w = int(rng.integers(width // 4, width // 2 + 1))
        top = int(rng.integers(0, height - h))
        left = int(rng.integers(0, width - w))
        mask[top:top + h, left:left + w] = True
        colour = rng.uniform(0.15, 0.8, 3)
        stripes = 0.1 * np.sin(xx * rng.uniform(10, 30))[..., None]
        scene_linear = np.where(mask[..., None], colour + stripes, background)
        cast = rng.uniform(0.7, 1.3, 3)
        real = _srgb_encode(np.clip(scene_linear, 0, 1) * cast)
        real8 = np.round(real * 255).astype(np.uint8)
        cv2.imwrite(str(folder / "real_images" / f"{image_id}.jpg"), real8[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 98])
        cv2.imwrite(str(folder / "masks" / f"{image_id}_1.png"), mask.astype(np.uint8) * 255)
        real_linear = _srgb_decode(real8 / 255.0)
        for k in range(1, composites_per_scene + 1):
            gain = rng.uniform(0.55, 1.6, 3)
            composite = np.where(mask[..., None], _srgb_encode(real_linear * gain), real8 / 255.0)
            composite8 = np.round(composite * 255).astype(np.uint8)
            name = f"{image_id}_1_{k}.jpg"
            cv2.imwrite(str(folder / "composite_images" / name), composite8[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 98])
            entry = name if bare_names else f"composite_images/{name}"
            (test if scene >= scenes - test_scenes else train).append(entry)
    (folder / "Toy_train.txt").write_text("\n".join(train) + "\n")
    (folder / "Toy_test.txt").write_text("\n".join(test) + "\n")
    return folder
