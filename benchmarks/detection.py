"""
Benchmark chart detection: synthetic sweep, real photos, per-stage times at 24 MP.

Run: ``python benchmarks/detection.py [--count 100] [--skip-real]``. Prints tables
of (1) found-upright rate and illuminant angular error over a synthetic sweep,
per backend order, (2) each real ColorChecker photo in ../shared/data/real, and
(3) per-stage times for one 6000 x 4000 synthetic capture on one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from ccharmony.checker import detect, sample
from ccharmony.checker._synthetic import render_chart
from ccharmony.checker.detect import (
    DETECTION_METHODS,
    _orient,
    candidates_from_centres,
    checker_from_corners,
    reduce_image,
    viewable_rendering,
)
from ccharmony.illuminant import angular_error, illuminant_from_patches

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def sweep(count: int, methods: list[str]) -> dict[str, float]:
    upright, errors, times = 0, [], []
    for seed in range(count):
        capture = render_chart(10_000 + seed, size=(768, 1024))
        start = time.perf_counter()
        checker = detect(capture.RGB, methods=methods)
        times.append(time.perf_counter() - start)
        if checker is None:
            continue
        side = np.linalg.norm(capture.corners[1] - capture.corners[0])
        if np.abs(checker.corners - capture.corners).max() < 0.05 * side:
            upright += 1
            estimate = illuminant_from_patches(sample(capture.RGB, checker))
            errors.append(float(angular_error(estimate, capture.illuminant)))
    return {"found_upright_%": 100.0 * upright / count,
            "median_deg": float(np.median(errors)) if errors else float("nan"),
            "p95_deg": float(np.percentile(errors, 95)) if errors else float("nan"),
            "mean_s": float(np.mean(times))}


def real_photos() -> list[tuple[str, str, str]]:
    import colour

    from ccharmony.io import IngestOptions, read_image

    rows = []
    files = sorted((REAL / "photos__JTvD_arcu_colorchecker").glob("*.jpg"))
    files += [REAL / "photos__pedrodiamel_colorchecker-detection" / "img-colorchecker.jpg"]
    for path in files:
        BGR = cv2.imread(str(path))
        RGB = colour.cctf_decoding(BGR[..., ::-1] / 255.0).astype(np.float32)
        checker = detect(RGB)
        rows.append((path.name, "-" if checker is None else checker.method,
                     "-" if checker is None else str(np.round(checker.corners[0]).astype(int).tolist())))
    others = [(REAL / "lab__bllanos_chromatic-aberration" / "d2_colorChecker30cm_raw01.tif", IngestOptions(cfa="GBRG")),
              (REAL / "lab__bllanos_chromatic-aberration" / "d2_colorChecker30cm_d3_01.tif", None),
              (REAL / "nus8__WB_sRGB_RenderedWB_Set1" / "Canon1DsMkIII_0087_F_P.png", None),
              (REAL / "nus8__WB_sRGB_RenderedWB_Set1" / "Canon1DsMkIII_0087_G_AS.png", None)]
    others += [(p, None) for p in sorted((REAL / "nus8__Zotkin_pytorch-retinanet").glob("*.PNG"))]
    for path, options in others:
        try:
            image = read_image(path, options)
            checker = detect(image)
            rows.append((path.name, "-" if checker is None else checker.method,
                         "-" if checker is None else str(np.round(checker.corners[0]).astype(int).tolist())))
        except Exception as error:  # noqa: BLE001 - report and go on
            rows.append((path.name, "error", str(error)[:60]))
    return rows


def stage_times(repeats: int = 3) -> dict[str, float]:
    cv2.setNumThreads(1)
    capture = render_chart(42, size=(4000, 6000), chart_fraction=(0.25, 0.3))
    RGB = capture.RGB
    best: dict[str, float] = {}
    for _ in range(repeats):
        timings = {}
        start = time.perf_counter()
        reduced, scale = reduce_image(RGB, 1024)
        timings["reduce 24 MP -> 1024"] = time.perf_counter() - start
        start = time.perf_counter()
        view = viewable_rendering(reduced)
        timings["viewable rendering"] = time.perf_counter() - start
        start = time.perf_counter()
        proposals = DETECTION_METHODS["segmentation"](view)
        timings["segmentation backend"] = time.perf_counter() - start
        start = time.perf_counter()
        chosen = None
        for centres in proposals:
            candidates = candidates_from_centres(centres)
            result = _orient(reduced, candidates)
            if result is not None and (chosen is None or result[1].score > chosen[1].score):
                chosen = (candidates[result[0]], result[1])
        timings["grid fit + orientation/verification"] = time.perf_counter() - start
        start = time.perf_counter()
        checker = checker_from_corners((chosen[0] + 0.5) / scale - 0.5)
        patches = sample(RGB, checker)
        timings["sample at full resolution"] = time.perf_counter() - start
        start = time.perf_counter()
        illuminant_from_patches(patches)
        timings["illuminant"] = time.perf_counter() - start
        start = time.perf_counter()
        detect(RGB)
        timings["detect() total (one call)"] = time.perf_counter() - start
        start = time.perf_counter()
        DETECTION_METHODS["mcc"](view)
        timings["(mcc backend alone, for comparison)"] = time.perf_counter() - start
        for key, value in timings.items():
            best[key] = min(best.get(key, np.inf), value)
    error = np.abs(checker.corners - capture.corners).max()
    best["corner error px (not a time)"] = float(error)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    print(f"## synthetic sweep ({args.count} captures, 1024x768, CCT 2000-12000 K, tint +-0.5)")
    print("| methods | found upright % | illuminant median deg | p95 deg | mean s |")
    print("|---|---|---|---|---|")
    for methods in (["segmentation", "mcc"], ["segmentation"], ["mcc"]):
        r = sweep(args.count, methods)
        print(f"| {','.join(methods)} | {r['found_upright_%']:.1f} | {r['median_deg']:.3f} | "
              f"{r['p95_deg']:.3f} | {r['mean_s']:.3f} |")
    if not args.skip_real and REAL.is_dir():
        print("\n## real photos (default methods)")
        print("| file | method | dark-skin corner |")
        print("|---|---|---|")
        for name, method, corner in real_photos():
            print(f"| {name} | {method} | {corner} |")
    print("\n## per-stage times, 6000x4000 synthetic, one OpenCV thread (best of 3)")
    print("| stage | seconds |")
    print("|---|---|")
    for key, value in stage_times().items():
        print(f"| {key} | {value:.4f} |")


if __name__ == "__main__":
    main()
