"""
Benchmark chart detection: synthetic DNG sweep, real photos, per-stage times at 24 MP.

Run::

    python benchmarks/detection.py [--count 100] [--size 1500x1000] [--seed 2024]
        [--cache DIR] [--skip-real] [--skip-timing]

Prints tables of

1.  a sweep over ``ccharmony.synth.synthesize`` captures (real DNG files: chart
    10-45 % of the width, any rotation, perspective, exposure 5 % to near
    clipping, shot/read noise, black level, CFA mosaic, 3 cameras, daylight /
    blackbody / fluorescent / LED), read with ``ccharmony.io.read_image``, per
    backend order: found with the right orientation, corner and patch-centre
    error, illuminant angular error of ``illuminant_from_patches`` (the
    neutral patches of the sampled chart) against the truth ``illuminant``
    (perfect white reflector) and against ``illuminant_neutral_patches`` (the
    noise-free neutral patches), and detection time;
2.  the same by exposure of the chart's white patch (dark, mid, near clipping);
3.  each real ColorChecker photo in ../shared/data/real (with the patch-centre
    error where the folder has ground-truth geometry);
4.  per-stage times for 24-megapixel (6000 x 4000) synthetic captures, one
    OpenCV thread.

"Found upright" = every truth patch centre within 25 % of a patch pitch of the
detected one (a chart turned by 90 or 180 degrees is off by at least a pitch).
Patch centres are compared because the synthetic chart's body (279.4 x 215.9
mm, 40 mm patches, 5 mm gaps) has other margins than ccharmony's chart frame
(measured from Gehler-Shi's hand-annotated corners): the corner error column
shows that systematic difference (about 3 % of the chart width).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from ccharmony.checker import detect, sample
from ccharmony.checker.detect import (
    DETECTION_METHODS,
    _orient,
    candidates_from_centres,
    reduce_image,
    viewable_rendering,
)
from ccharmony.illuminant import angular_error, illuminant_from_patches

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def truth_patch_centres(corners: np.ndarray) -> np.ndarray:
    """Patch centres of the synthetic chart (its own mm geometry) in pixels."""
    from ccharmony.synth.scene import (
        CHART_GAP_MM,
        CHART_PATCH_MM,
        _chart_margins,
        chart_template_corners,
    )

    margin_x, margin_y = _chart_margins()
    pitch = CHART_PATCH_MM + CHART_GAP_MM
    mm = np.array([[margin_x + (i % 6) * pitch + CHART_PATCH_MM / 2,
                    margin_y + (i // 6) * pitch + CHART_PATCH_MM / 2] for i in range(24)])
    H, _ = cv2.findHomography(chart_template_corners(), np.asarray(corners, np.float64), 0)
    return cv2.perspectiveTransform(mm[:, None], H)[:, 0]


def make_captures(folder: Path, count: int, seed: int, size: tuple[int, int]) -> list[Path]:
    from ccharmony.synth import synthesize

    truths = sorted((folder / "truth").glob("*.json"))
    if len(truths) != count:
        synthesize(folder, count=count, seed=seed, size=size, relit=False)
        truths = sorted((folder / "truth").glob("*.json"))
    return truths


def sweep(truths: list[Path], methods: list[str]) -> list[dict]:
    from ccharmony.io import read_image
    from ccharmony.synth import read_truth

    rows = []
    for path in truths:
        truth = read_truth(path)
        image = read_image(path.parent.parent / truth["dng"])
        start = time.perf_counter()
        checker = detect(image, methods=methods)
        seconds = time.perf_counter() - start
        corners = np.asarray(truth["corners"], np.float64)
        centres = truth_patch_centres(corners)
        pitch = float(np.linalg.norm(centres[1] - centres[0]))
        width = float(np.linalg.norm(corners[1] - corners[0]))
        row = {"name": truth["name"], "seconds": seconds, "level": truth["exposure"]["level"],
               "upright": False, "corner_%": np.nan, "centre_%": np.nan,
               "white_deg": np.nan, "neutral_deg": np.nan, "clipped": 0}
        if checker is not None:
            centre_error = np.linalg.norm(checker.patches.mean(axis=1) - centres, axis=1).max()
            row["centre_%"] = 100.0 * centre_error / pitch
            row["corner_%"] = 100.0 * np.linalg.norm(checker.corners - corners, axis=1).max() / width
            row["upright"] = bool(centre_error < 0.25 * pitch)
            if row["upright"]:
                patches = sample(image, checker)
                row["clipped"] = int(np.count_nonzero(patches.clipped))
                estimate = illuminant_from_patches(patches)
                row["white_deg"] = float(angular_error(estimate, truth["illuminant"]))
                row["neutral_deg"] = float(angular_error(estimate, truth["illuminant_neutral_patches"]))
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> str:
    upright = [r for r in rows if r["upright"]]
    white = np.array([r["white_deg"] for r in upright])
    neutral = np.array([r["neutral_deg"] for r in upright])

    def stat(values: np.ndarray, q: float) -> str:
        return f"{np.percentile(values, q):.3f}" if len(values) else "-"

    return (f"{len(rows)} | {100.0 * len(upright) / max(len(rows), 1):.1f} | "
            f"{stat(np.array([r['corner_%'] for r in upright]), 50)} | "
            f"{stat(np.array([r['centre_%'] for r in upright]), 50)} | "
            f"{stat(white, 50)} | {stat(white, 95)} | {stat(white, 100)} | "
            f"{stat(neutral, 50)} | {stat(neutral, 95)} | "
            f"{np.mean([r['seconds'] for r in rows]):.3f}")


HEADER = ("| captures | found upright % | corner err median % width | centre err median % pitch "
          "| illum. vs white median deg | p95 deg | max deg | vs neutral patches median deg "
          "| p95 deg | detect mean s |")


def real_photos() -> list[tuple[str, str, str, str]]:
    import colour

    from ccharmony.checker.annotations import read_patch_boxes_csv
    from ccharmony.io import IngestOptions, read_image

    def corner(checker) -> str:  # noqa: ANN001
        return "-" if checker is None else str(np.round(checker.corners[0]).astype(int).tolist())

    rows = []
    files = sorted((REAL / "photos__JTvD_arcu_colorchecker").glob("*.jpg"))
    files += [REAL / "photos__pedrodiamel_colorchecker-detection" / "img-colorchecker.jpg"]
    for path in files:
        BGR = cv2.imread(str(path))
        RGB = colour.cctf_decoding(BGR[..., ::-1] / 255.0).astype(np.float32)
        checker = detect(RGB)
        rows.append((path.name, "-" if checker is None else checker.method, corner(checker), "-"))
    others = [(REAL / "lab__bllanos_chromatic-aberration" / "d2_colorChecker30cm_raw01.tif", IngestOptions(cfa="GBRG")),
              (REAL / "lab__bllanos_chromatic-aberration" / "d2_colorChecker30cm_d3_01.tif", None),
              (REAL / "nus8__WB_sRGB_RenderedWB_Set1" / "Canon1DsMkIII_0087_F_P.png", None),
              (REAL / "nus8__WB_sRGB_RenderedWB_Set1" / "Canon1DsMkIII_0087_G_AS.png", None)]
    zotkin = REAL / "nus8__Zotkin_pytorch-retinanet"
    others += [(p, None) for p in sorted(zotkin.glob("*.PNG"))]
    for path, options in others:
        try:
            image = read_image(path, options)
            checker = detect(image)
            error = "-"
            if path.parent == zotkin and checker is not None:
                truth = read_patch_boxes_csv(zotkin / "annotations.csv", path.name)
                error = "{:.1f} px".format(np.linalg.norm(
                    checker.patches.mean(axis=1) - truth.patches.mean(axis=1), axis=1).max())
            rows.append((path.name, "-" if checker is None else checker.method, corner(checker), error))
        except Exception as error:  # noqa: BLE001 - report and go on
            rows.append((path.name, "error", str(error)[:60], "-"))
    return rows


def stage_times(truths: list[Path], repeats: int = 3) -> dict[str, float]:
    from ccharmony.io import read_image
    from ccharmony.synth import read_truth

    cv2.setNumThreads(1)
    best: dict[str, float] = {}
    worst_error = 0.0
    for path in truths:
        truth = read_truth(path)
        start = time.perf_counter()
        image = read_image(path.parent.parent / truth["dng"])
        best["(read_image DNG, not detection)"] = min(best.get("(read_image DNG, not detection)", np.inf),
                                                      time.perf_counter() - start)
        RGB = image.RGB
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
            checker = detect(image)
            timings["detect() total (one call)"] = time.perf_counter() - start
            start = time.perf_counter()
            patches = sample(image, checker)
            timings["sample at full resolution"] = time.perf_counter() - start
            start = time.perf_counter()
            illuminant_from_patches(patches)
            timings["illuminant"] = time.perf_counter() - start
            start = time.perf_counter()
            DETECTION_METHODS["mcc"](view)
            timings["(mcc backend alone, for comparison)"] = time.perf_counter() - start
            for key, value in timings.items():
                best[key] = min(best.get(key, np.inf), value)
        centres = truth_patch_centres(np.asarray(truth["corners"]))
        pitch = float(np.linalg.norm(centres[1] - centres[0]))
        worst_error = max(worst_error, float(
            np.linalg.norm(checker.patches.mean(axis=1) - centres, axis=1).max() / pitch))
    best["patch-centre error, % pitch (not a time)"] = 100.0 * worst_error
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", default="1500x1000", help="WIDTHxHEIGHT of the sweep captures")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder to keep the synthetic captures in (default: a temporary one)")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as temporary:
        cache = args.cache or Path(temporary)
        truths = make_captures(cache / f"sweep_{args.seed}_{width}x{height}_{args.count}",
                               args.count, args.seed, (width, height))
        print(f"## synthetic sweep: {args.count} ccharmony.synth DNG captures, {width}x{height}, "
              f"seed {args.seed}")
        print("Illuminant truth: 'vs white' = truth 'illuminant' (perfect white reflector); "
              "'vs neutral patches' = truth 'illuminant_neutral_patches'.\n")
        print("| methods " + HEADER)
        print("|---" * 11 + "|")
        by_exposure = None
        for methods in (["segmentation", "mcc"], ["segmentation"], ["mcc"]):
            rows = sweep(truths, methods)
            by_exposure = by_exposure or rows
            print(f"| {','.join(methods)} | {summary(rows)} |")
            failures = [f"{r['name']} (centre err {r['centre_%']:.0f} % pitch)" for r in rows if not r["upright"]]
            if failures:
                print(f"|   not found upright: {', '.join(failures)} |")
        print("\n## by exposure of the chart's white patch (default methods)\n")
        print("| white level " + HEADER + " clipped patches (mean) |")
        print("|---" * 12 + "|")
        for low, high in ((0.0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 2.0)):
            subset = [r for r in by_exposure if low <= r["level"] < high]
            if subset:
                print(f"| {low:.1f}-{min(high, 1.0):.1f} | {summary(subset)} | "
                      f"{np.mean([r['clipped'] for r in subset]):.1f} |")
        if not args.skip_real and REAL.is_dir():
            print("\n## real photos (default methods)\n")
            print("| file | method | corner next to dark skin | max patch-centre error vs annotation |")
            print("|---|---|---|---|")
            for name, method, corner, error in real_photos():
                print(f"| {name} | {method} | {corner} | {error} |")
        if not args.skip_timing:
            truths = make_captures(cache / "timing_7_6000x4000_2", 2, 7, (6000, 4000))
            print("\n## per-stage times, 6000x4000 synthetic DNG captures (2), one OpenCV thread, "
                  "best of 3\n")
            print("| stage | seconds |")
            print("|---|---|")
            for key, value in stage_times(truths).items():
                print(f"| {key} | {value:.4f} |")


if __name__ == "__main__":
    main()
