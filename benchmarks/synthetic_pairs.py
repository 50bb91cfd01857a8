"""Write a synthetic harmonization dataset of N pairs at a photo size, fast (a helper of the loader benchmarks).

Not a physically based build (that is ``ccharmony build``): each real image is a smooth random
scene with fine texture (so that JPEG and its decoder work as on a photo), one elliptical
foreground, and ten composites whose foreground gets per-channel gains; the files follow the
iHarmony4 layout (``real_images/``, ``masks/``, ``composite_images/``, ``Synthtrain.txt`` and
``Synthtest.txt``, one image in ten in the test split) and are encoded with ccharmony's own
encoders (JPEG quality 95, 4:4:4; masks as 8-bit PNGs).

    python benchmarks/synthetic_pairs.py --out /tmp/pairs-300 --pairs 300 --size 2000x1400

NUS-8 photos after ccHarmony's crop are larger: the published masks of the NUS images have a
median size of 3746x3448 (13.7 MP; those of Gehler-Shi 676x583), measured from
``annotations/ccharmony/foreground_masks`` with ``ccharmony.io.limits.read_image_size``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from ccharmony.io.atomic import atomic_write_bytes, atomic_write_text
from ccharmony.io.encode import encode_image, encode_mask

COMPOSITES_PER_IMAGE = 10


def _scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    coarse = rng.uniform(30, 220, (12, 16, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = rng.normal(0, 12, (height // 2, width // 2, 1)).astype(np.float32)
    smooth += cv2.resize(texture, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    return np.clip(smooth, 0, 255).astype(np.uint8)


def write_pairs(out: Path, *, pairs: int, width: int, height: int, seed: int = 0) -> dict[str, float]:
    """Write ``pairs`` composites (``pairs / 10`` real images) under ``out``; return counts and seconds."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    for sub in ("real_images", "masks", "composite_images"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    images = -(-pairs // COMPOSITES_PER_IMAGE)
    train, test = [], []
    written = 0
    yy, xx = np.mgrid[0:height, 0:width]
    for number in range(images):
        image_id = f"Synth-{number:05d}"
        real = _scene(rng, width, height)
        cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
        ry, rx = rng.uniform(0.1, 0.3) * height, rng.uniform(0.1, 0.3) * width
        mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        atomic_write_bytes(out / "real_images" / f"{image_id}.jpg", encode_image(real, ".jpg", chroma_444=True))
        atomic_write_bytes(out / "masks" / f"{image_id}_a.png", encode_mask(mask))
        for k in range(1, COMPOSITES_PER_IMAGE + 1):
            if written == pairs:
                break
            gains = rng.uniform(0.6, 1.5, 3).astype(np.float32)
            composite = real.copy()
            composite[mask] = np.clip(real[mask] * gains, 0, 255).astype(np.uint8)
            name = f"{image_id}_a_{k}.jpg"
            atomic_write_bytes(out / "composite_images" / name, encode_image(composite, ".jpg", chroma_444=True))
            (test if number % 10 == 9 else train).append(name)
            written += 1
    atomic_write_text(out / "Synthtrain.txt", "\n".join(train) + "\n")
    atomic_write_text(out / "Synthtest.txt", "\n".join(test) + "\n")
    return {"pairs": written, "images": images, "train": len(train), "test": len(test),
            "seconds": time.perf_counter() - started}


def ensure_pairs(out: Path, *, pairs: int, width: int, height: int) -> dict[str, float] | None:
    """Write the dataset unless ``out`` already holds one of that many pairs (returns None then)."""
    lists = [out / "Synthtrain.txt", out / "Synthtest.txt"]
    if all(path.is_file() for path in lists):
        count = sum(len(path.read_text().split()) for path in lists)
        if count == pairs:
            return None
    return write_pairs(out, pairs=pairs, width=width, height=height)


def parse_size(text: str) -> tuple[int, int]:
    """``"2000x1400"`` -> ``(2000, 1400)``."""
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--size", default="2000x1400", help="WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = parse_size(args.size)
    info = write_pairs(args.out, pairs=args.pairs, width=width, height=height)
    print(f"wrote {info['pairs']} pairs ({info['images']} images, {info['train']} train / {info['test']} test) "
          f"at {width}x{height} in {info['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
