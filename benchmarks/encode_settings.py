"""
Measure JPEG and PNG encoder settings on a build's own output and print tables.

``ccharmony build`` encodes every real image and composite as JPEG (the
pipeline's quality, 4:4:4 chroma by default) and every mask as PNG; at 24
megapixels encoding is about half of a build (``benchmarks/build_speed.py``).
This script measures, on one real image and one mask of a 24-MP build, the
settings that change speed and size but not the decoded pixels (JPEG Huffman
optimisation, progressive scans; PNG compression level and zlib strategy, 1-bit
output) and, for reference, those that change pixels (4:2:0 chroma), with the
time to decode each result again (what a training loop pays on every epoch).

Usage::

    python benchmarks/encode_settings.py                   # synthesizes a 24-MP pair once
    python benchmarks/encode_settings.py --data DATASET    # a built dataset's first real image and mask

Every encode runs with one OpenCV thread; times are the median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def _median_seconds(function, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _dataset(folder: Path | None, size: tuple[int, int]) -> Path:
    if folder is not None:
        return folder
    from ccharmony.dataset.builder import BuildOptions, build_dataset
    from ccharmony.dataset.config import Pipeline
    from ccharmony.synth import synthesize

    root = Path(tempfile.gettempdir()) / f"ccharmony-encode-bench-{size[0]}x{size[1]}"
    out = root / "dataset"
    if not (out / "build.json").exists():
        synthesize(root / "scenes", count=2, seed=3, size=size, relit=False)
        build_dataset(BuildOptions(out=out, raw_dir=root / "scenes" / "raw", annotations=root / "scenes" / "annotations",
                                   pipeline=Pipeline(k=1), seed=0, progress=False))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", type=Path, default=None, help="a built dataset (default: build a 24-MP pair once)")
    parser.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT of the synthesized photos")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (the pipeline's)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    width, height = (int(v) for v in args.size.lower().split("x"))
    data = _dataset(args.data, (width, height))
    real = cv2.imread(str(sorted((data / "real_images").glob("*.jpg"))[0]), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(sorted((data / "masks").glob("*.png"))[0]), cv2.IMREAD_GRAYSCALE)
    print(f"# real image {real.shape[1]}x{real.shape[0]}, mask {mask.shape[1]}x{mask.shape[0]} "
          f"({100 * np.count_nonzero(mask) / mask.size:.1f} % foreground); one thread, median of {args.repeats}")

    q = [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    s444 = [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    jpeg = [
        ("4:4:4, baseline (ccharmony)", q + s444),
        ("4:4:4, optimised Huffman tables", q + s444 + [cv2.IMWRITE_JPEG_OPTIMIZE, 1]),
        ("4:4:4, progressive", q + s444 + [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        ("4:2:0, baseline (changes pixels)", q),
    ]
    print()
    print(f"## JPEG, quality {args.quality}")
    print(f"{'setting':44s} {'encode s':>9s} {'MB':>7s} {'decode s':>9s}  same pixels")
    reference = None
    for label, params in jpeg:
        seconds = _median_seconds(lambda: cv2.imencode(".jpg", real, params), args.repeats)
        encoded = cv2.imencode(".jpg", real, params)[1]
        decode = _median_seconds(lambda: cv2.imdecode(encoded, cv2.IMREAD_COLOR), args.repeats)
        pixels = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if reference is None:
            reference = pixels
        same = "yes" if np.array_equal(pixels, reference) else "no"
        print(f"{label:44s} {seconds:9.3f} {encoded.size / 1e6:7.2f} {decode:9.3f}  {same}")

    print()
    print("## PNG mask (0 / 255)")
    print(f"{'setting':44s} {'encode s':>9s} {'MB':>7s} {'decode s':>9s}")
    png = [(f"level {level}, {name}",
            [cv2.IMWRITE_PNG_COMPRESSION, level, cv2.IMWRITE_PNG_STRATEGY, strategy])
           for level in (1, 3, 6, 9)
           for name, strategy in (("default", cv2.IMWRITE_PNG_STRATEGY_DEFAULT), ("RLE", cv2.IMWRITE_PNG_STRATEGY_RLE))]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV 4.11+: the row filter libpng tries
        for name in ("NONE", "SUB", "UP"):
            for level, strategy_name, strategy in ((1, "default", cv2.IMWRITE_PNG_STRATEGY_DEFAULT),
                                                   (1, "RLE", cv2.IMWRITE_PNG_STRATEGY_RLE),
                                                   (6, "default", cv2.IMWRITE_PNG_STRATEGY_DEFAULT)):
                chosen = " (ccharmony)" if (level, strategy_name, name) == (1, "default", "NONE") else ""
                png.append((f"level {level}, {strategy_name}, filter {name.lower()}{chosen}",
                            [cv2.IMWRITE_PNG_COMPRESSION, level, cv2.IMWRITE_PNG_STRATEGY, strategy,
                             cv2.IMWRITE_PNG_FILTER, getattr(cv2, f"IMWRITE_PNG_FILTER_{name}")]))
    png.append(("1-bit (bilevel), level 3", [cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_BILEVEL, 1]))
    for label, params in png:
        seconds = _median_seconds(lambda: cv2.imencode(".png", mask, params), args.repeats)
        encoded = cv2.imencode(".png", mask, params)[1]
        decode = _median_seconds(lambda: cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED), args.repeats)
        decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
        if not np.array_equal(decoded, mask):
            label += " [pixels differ]"
        print(f"{label:44s} {seconds:9.3f} {encoded.size / 1e6:7.3f} {decode:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
