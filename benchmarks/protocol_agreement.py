"""Measure how far each evaluation protocol is from an independent computation of the peer's formulas.

Writes random test triplets (composite, real, mask; random sizes from 40 to
600 pixels, hard and anti-aliased masks, grey and colour masks, PNG and JPEG)
and random network outputs, then compares, per protocol and metric, our
:mod:`ccharmony.harmonization.protocols` with ``tests/harmonization/peer_reference.py``
(our own small implementations of each peer's formulas and conventions,
written from their definitions; scipy filtering, not the library's code).
Prints the largest absolute and relative difference over all cases, for model
outputs and for prediction files of other sizes, and, for the SSIM-based
protocols, how far the same formulas run in float32 are from float64 (a lower
bound on what the peers' float32 GPU evaluation rounds away: scipy's filters
accumulate in double, the peers' ``F.conv2d`` in float32):

    python benchmarks/protocol_agreement.py --cases 40
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harmonization"))

import peer_reference as peer  # noqa: E402

from ccharmony.harmonization.data import sample_paths  # noqa: E402
from ccharmony.harmonization.metrics import METRIC_NAMES  # noqa: E402
from ccharmony.harmonization.protocols import PROTOCOL_NAMES, get_protocol  # noqa: E402


def _case(folder: Path, index: int, rng: np.random.Generator) -> str:
    height, width = (int(v) for v in rng.integers(40, 600, 2))
    coarse = rng.uniform(10, 245, (max(2, height // 20), max(2, width // 20), 3)).astype(np.float32)
    real = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 5, (height, width, 3))
    real = np.clip(np.round(real), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot(yy - rng.uniform(0.3, 0.7) * height, xx - rng.uniform(0.3, 0.7) * width)
    radius = rng.uniform(0.15, 0.35) * min(height, width)
    soft = bool(rng.integers(0, 2))
    mask = (np.clip((radius - distance) / 3 * 255 + 127.5, 0, 255) if soft
            else np.where(distance < radius, 255, 0)).astype(np.uint8)
    composite = np.where(mask[..., None] > 127, np.clip(real * rng.uniform(0.6, 1.4, 3), 0, 255), real)
    composite = composite.astype(np.uint8)
    extension = ".jpg" if rng.integers(0, 2) else ".png"
    cv2.imwrite(str(folder / "real_images" / f"c{index}.jpg"), real[..., ::-1])
    mask_file = np.stack([mask, np.roll(mask, 5, 1), mask], 2) if rng.integers(0, 3) == 0 else mask
    cv2.imwrite(str(folder / "masks" / f"c{index}_1.png"), mask_file)
    cv2.imwrite(str(folder / "composite_images" / f"c{index}_1_1{extension}"), composite[..., ::-1])
    size = (int(width * rng.uniform(0.5, 1.5)) + 1, int(height * rng.uniform(0.5, 1.5)) + 1)
    cv2.imwrite(str(folder / "predictions" / f"c{index}_1_1.jpg"),
                cv2.resize(real, size, interpolation=cv2.INTER_AREA)[..., ::-1])
    return f"composite_images/c{index}_1_1{extension}"


def _reference(protocol: str, paths, output: np.ndarray | None, file: Path | None,
               dtype: type = np.float64) -> dict[str, float]:
    _, real, mask = peer.read(protocol, str(paths.composite), str(paths.real), str(paths.mask))
    if output is not None:
        pred = peer.prediction(protocol, output)
    elif protocol == "iih":
        image = Image.open(str(file)).convert("RGB")
        pred = np.array(image.resize((256, 256), Image.BICUBIC) if image.size != (256, 256) else image,
                        dtype=np.float32)
    else:
        decoded = cv2.imdecode(np.fromfile(str(file), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        pred = cv2.resize(np.ascontiguousarray(decoded), (256, 256), interpolation=cv2.INTER_LINEAR)
    return peer.scores(protocol, pred, real, mask, dtype)


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    worst: dict[tuple[str, str, str], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for sub in ("real_images", "masks", "composite_images", "predictions"):
            (folder / sub).mkdir()
        entries = [_case(folder, index, rng) for index in range(args.cases)]
        for entry in entries:
            paths = sample_paths(folder, entry)
            file = folder / "predictions" / f"{paths.name}.jpg"
            for protocol in PROTOCOL_NAMES:
                chosen = get_protocol(protocol)
                sample = chosen.read_sample(paths, folder=folder)
                output = np.clip(sample.real / 255.0 + rng.normal(0, 0.05, sample.real.shape), -0.05, 1.05)
                output = output.astype(np.float32)
                runs = {
                    "model output": (chosen.score(chosen.prediction_from_model(output), sample),
                                     _reference(protocol, paths, output, None)),
                    "file, other size": (chosen.score(chosen.prediction_from_file(
                        chosen.decode_prediction(file.read_bytes(), name=str(file))), sample),
                        _reference(protocol, paths, None, file)),
                }
                if protocol in ("bcmi", "iih"):
                    # What float32 rounding alone moves: the same formulas in float32 against float64.
                    runs["f32 vs f64, model"] = (_reference(protocol, paths, output, None, np.float32),
                                                 _reference(protocol, paths, output, None))
                    runs["f32 vs f64, file"] = (_reference(protocol, paths, None, file, np.float32),
                                                _reference(protocol, paths, None, file))
                for kind, (ours, theirs) in runs.items():
                    for metric in METRIC_NAMES:
                        a, b = ours[metric], theirs[metric]
                        if math.isnan(a) and math.isnan(b):
                            continue
                        absolute = abs(a - b)
                        relative = absolute / max(abs(b), 1e-12)
                        key = (protocol, kind, metric)
                        previous = worst.get(key, (0.0, 0.0))
                        worst[key] = (max(previous[0], absolute), max(previous[1], relative))
    print(f"{args.cases} random cases; largest |ours - independent computation| (absolute / relative)")
    print(f"{'protocol':<8} {'prediction':<17} " + " ".join(f"{m:>19}" for m in METRIC_NAMES))
    for protocol in PROTOCOL_NAMES:
        for kind in ("model output", "f32 vs f64, model", "file, other size", "f32 vs f64, file"):
            if not any((protocol, kind, metric) in worst for metric in METRIC_NAMES):
                continue
            cells = []
            for metric in METRIC_NAMES:
                if (protocol, kind, metric) not in worst:
                    cells.append(f"{'-':>19}")
                    continue
                absolute, relative = worst[(protocol, kind, metric)]
                cells.append(f"{absolute:>9.2g} / {relative:<7.2g}")
            print(f"{protocol:<8} {kind:<17} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
