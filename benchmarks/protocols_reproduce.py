"""Check that scoring saved predictions reproduces the evaluated rows, under every protocol.

For each evaluation protocol, evaluates the ``composite`` and ``reinhard-lab``
models on a dataset's test split (the rows a training run writes), then saves
their outputs as another method would and scores the folders with
:func:`ccharmony.harmonization.scoring.score_predictions`, added to the same
run folder:

-   ``composite-jpeg-full``: the composite files themselves, ``<name>.jpg`` at
    full size (iSSAM ``predict_for_dir`` naming);
-   ``reinhard-jpeg85-full``: Reinhard run at full size on the composite and
    its mask (> 127), saved as JPEG quality 85 (``predict_for_dir``'s quality);
-   ``reinhard-png-full``: the same, saved as PNG (no JPEG loss);
-   ``reinhard-png-256``: Reinhard run on the protocol's own 256x256 sample,
    saved as PNG (only the 8-bit rounding differs from the evaluated row).

Prints, per protocol and row, the evaluated mean, the scored mean and the
largest per-image difference of each metric:

    ccharmony build --out /tmp/p12/dataset
    python benchmarks/protocols_reproduce.py --data /tmp/p12/dataset --work /tmp/p12/reproduce
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ccharmony.harmonization.data import HarmonizationDataset
from ccharmony.harmonization.metrics import METRIC_NAMES
from ccharmony.harmonization.models import build_model
from ccharmony.harmonization.predict import evaluate, scored_to_uint8
from ccharmony.harmonization.protocols import PROTOCOL_NAMES, get_protocol, read_samples
from ccharmony.harmonization.report import write_report
from ccharmony.harmonization.scoring import score_predictions
from ccharmony.harmonization.statistics import BootstrapOptions
from ccharmony.io import read_srgb8
from ccharmony.io.encode import decode_mask


def _reinhard(model: torch.nn.Module, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    images = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div(255.0)[None]
    masks = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    with torch.no_grad():
        output = model(images, masks)["images"].float().clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    return output


def _write(path: Path, rgb: np.ndarray, quality: int | None = None) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if quality is not None else []
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]), params):
        raise SystemExit(f"{path}: cannot write")


def make_predictions(data: Path, work: Path, protocol: str) -> dict[str, Path]:
    """Write the four prediction folders of the module docstring; return name -> folder."""
    dataset = HarmonizationDataset(data, "test", size=256)
    model = build_model("reinhard-lab")
    folders = {name: work / protocol / name for name in
               ("composite-jpeg-full", "reinhard-jpeg85-full", "reinhard-png-full", "reinhard-png-256")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for paths in dataset.paths:
        shutil.copyfile(paths.composite, folders["composite-jpeg-full"] / f"{paths.name}.jpg")
        composite = read_srgb8(paths.composite)
        mask = decode_mask(paths.mask)
        full = np.clip(np.round(_reinhard(model, composite, mask) * 255.0), 0, 255).astype(np.uint8)
        _write(folders["reinhard-jpeg85-full"] / f"{paths.name}.jpg", full, 85)
        _write(folders["reinhard-png-full"] / f"{paths.name}.png", full)
    chosen = get_protocol(protocol)
    for sample in read_samples(data, dataset.paths, chosen):
        output = _reinhard(model, sample.composite, sample.mask)
        _write(folders["reinhard-png-256"] / f"{sample.name}.png", scored_to_uint8(chosen.prediction_from_model(output)))
    return folders


def _max_difference(a: list[dict], b: list[dict], metric: str) -> float:
    by_name = {row["name"]: row[metric] for row in b}
    values = [abs(row[metric] - by_name[row["name"]]) for row in a if not math.isnan(row[metric])]
    return max(values) if values else math.nan


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="dataset folder (e.g. ccharmony build --out DIR)")
    parser.add_argument("--work", required=True, type=Path, help="folder for predictions and run folders")
    parser.add_argument("--protocols", default=",".join(PROTOCOL_NAMES))
    parser.add_argument("--bootstrap", type=int, default=500)
    args = parser.parse_args()
    statistics = BootstrapOptions(resamples=args.bootstrap)
    torch.set_num_threads(1)
    print(f"{'protocol':<7} {'row':<22} {'metric':<6} {'evaluated':>10} {'scored':>10} {'max |d| per image':>18}")
    for protocol in args.protocols.split(","):
        started = time.perf_counter()
        dataset = HarmonizationDataset(args.data, "test", size=256)
        samples = read_samples(args.data, dataset.paths, get_protocol(protocol))
        trained = {name: evaluate(build_model(name), dataset, protocol=protocol, samples=samples)
                   for name in ("composite", "reinhard-lab")}
        run = args.work / protocol / "run"
        if run.exists():
            shutil.rmtree(run)
        run.mkdir(parents=True)
        write_report(run, trained, meta={"dataset": str(args.data)}, protocol=protocol, statistics=statistics,
                     rows_info={name: {"source": "evaluated"} for name in trained})
        folders = make_predictions(args.data, args.work, protocol)
        for name, folder in folders.items():
            result = score_predictions(args.data, folder, name=name, protocol=protocol, run_dir=run)
            reference = trained["composite" if name.startswith("composite") else "reinhard-lab"]
            for metric in METRIC_NAMES:
                evaluated = float(np.mean([row[metric] for row in reference]))
                scored = result.summary[name]["metrics"][metric]
                if math.isnan(evaluated):
                    continue
                digits = 4 if "SSIM" in metric else 2
                print(f"{protocol:<7} {name:<22} {metric:<6} {evaluated:>10.{digits}f} {scored:>10.{digits}f} "
                      f"{_max_difference(result.rows, reference, metric):>18.3g}")
        print(f"# {protocol}: {time.perf_counter() - started:.0f} s; run folder {run}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
