"""Write a tiny dataset folder to the contract of ARCHITECTURE.md section 6 (export test helper).

The folder is written here rather than by ``ccharmony build`` so that the export tests check the
exporters against the layout contract itself (``test_export_build.py`` exports a real build too).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ccharmony.dataset.layout import METADATA_COLUMNS
from ccharmony.io.encode import encode_image, encode_mask

NAME = "tiny"


def write_dataset(folder: Path, *, images: int = 5, foregrounds: int = 2, k: int = 3, seed: int = 0,
                  name: str = NAME, test_images: int = 2) -> Path:
    """Write a dataset folder: ``images`` real images, ``foregrounds`` masks each, ``k`` composites per mask."""
    rng = np.random.default_rng(seed)
    for sub in ("real_images", "masks", "composite_images", "card"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rows, lists = [], {"train": [], "test": []}
    for image in range(images):
        image_id = f"Cam{image % 2}-{image:04d}"
        height, width = 24 + 4 * image, 32 + 2 * image  # sizes differ per image
        real = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        real_bytes = encode_image(real, ".jpg", quality=90)
        (folder / "real_images" / f"{image_id}.jpg").write_bytes(real_bytes)
        split = "test" if image < test_images else "train"
        for letter in "abcdefgh"[:foregrounds]:
            mask = np.zeros((height, width), bool)
            mask[rng.integers(0, height // 2):, rng.integers(0, width // 2):] = True
            mask_bytes = encode_mask(mask)
            (folder / "masks" / f"{image_id}_{letter}.png").write_bytes(mask_bytes)
            for index in range(1, k + 1):
                composite = real.copy()
                composite[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
                composite_bytes = encode_image(composite, ".jpg", quality=90)
                name_k = f"{image_id}_{letter}_{index}.jpg"
                (folder / "composite_images" / name_k).write_bytes(composite_bytes)
                lists[split].append(name_k)
                rows.append({
                    "composite_file_name": f"composite_images/{name_k}",
                    "real_file_name": f"real_images/{image_id}.jpg",
                    "mask_file_name": f"masks/{image_id}_{letter}.png",
                    "image_id": image_id, "foreground_id": f"{image_id}_{letter}", "k": index,
                    "split": split, "source_image": image_id, "target_image": f"Cam0-{(image + index) % images:04d}",
                    "source_camera": f"Camera {image % 2}", "target_camera": "Camera 0",
                    "source_illuminant": [0.6, 0.6, 0.52915], "target_illuminant": [0.5, 0.7, 0.5099],
                    "source_illuminant_srgb": [0.7, 0.5, 0.5099], "target_illuminant_srgb": [0.6, 0.6, 0.52915],
                    "illuminant_angle_deg": float(rng.uniform(0, 40)) if index != 2 else float("nan"),
                    "method": "poly11", "foreground_ratio": float(mask.mean()), "width": width, "height": height,
                    "composite_sha256": hashlib.sha256(composite_bytes).hexdigest(),
                    "real_sha256": hashlib.sha256(real_bytes).hexdigest(),
                    "mask_sha256": hashlib.sha256(mask_bytes).hexdigest(),
                    "transfer": json.dumps({"method": "poly11", "k": index}),
                })
    frame = pd.DataFrame(rows, columns=list(METADATA_COLUMNS))
    frame.to_parquet(folder / "metadata.parquet", index=False)
    for split, names in lists.items():
        (folder / f"{name}{split}.txt").write_text("".join(f"{line}\n" for line in sorted(names)))
    (folder / "DATASET_CARD.md").write_text(
        "---\nlicense: mit\ntask_categories:\n- image-to-image\ntags:\n- image-harmonization\n"
        "dataset_info:\n  splits:\n  - name: train\n    num_examples: 1\n---\n\n# tiny\n\n![plot](card/plot.png)\n"
    )
    (folder / "card" / "plot.png").write_bytes(encode_image(np.zeros((4, 4, 3), np.uint8), ".png"))
    (folder / "build.json").write_text(json.dumps({"seed": seed}))
    return folder
