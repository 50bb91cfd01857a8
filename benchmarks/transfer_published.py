"""
Reproduce ccHarmony's published poly11 mappings from its patch colours.

For every ``patch_colors/<image>.csv`` the script fits, with
:func:`ccharmony.transfer.fit` (``poly11``), the two published directions:

-   forward, image -> standard (published as ``<image>.npy``; the demo
    ``demo_color_transfer.py`` applies it to the image itself), and
-   reverse, standard -> image (published as ``<image>_reverse.npy``),

and prints the self-consistency of each fit (RMS / max residual on the 24
patches in 8-bit units, leave-one-out ΔE00 for image -> standard).

With ``--published DIR`` (the unzipped ``polynomial_matching_coefficients``
folder of bcmi/Image-Harmonization-Dataset-ccHarmony: ``(3, 11)`` float64
arrays, ``coef_`` of scikit-learn's ``LinearRegression(fit_intercept=False)``
on the terms ``[r, g, b, rg, rb, gb, r², g², b², rgb, 1]``), each published
mapping is compared with ours by evaluating both on the 24 patch colours and a
9x9x9 grid of 8-bit colours: a mapping "matches" when the largest difference
is at most ``--tolerance`` (8-bit units, before clipping).

``--speed`` also times :meth:`Transfer.apply` and :meth:`Transfer.apply_uint8`
on a random image of ``--megapixels`` MP.

Run::

    python benchmarks/transfer_published.py [--patch-dir DIR] [--published DIR] [--speed]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing

from ccharmony.io.patch_colors import read_patch_colors_csv, read_standard_srgb
from ccharmony.transfer import Transfer, fit, loo_residual

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PATCH_DIR = REPO.parent / "shared" / "data" / "ccharmony" / "patch_colors"


def _grid() -> np.ndarray:
    axis = np.linspace(0.0, 255.0, 9)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def _stats(values: "np.typing.ArrayLike") -> str:
    values = np.asarray(values, dtype=np.float64)
    cells = (np.mean(values), np.median(values), np.percentile(values, 95), np.max(values))
    return " | ".join(f"{value:9.4f}" for value in cells)


def _compare(ours: Transfer, published: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """Return (max output difference in 8-bit units, max relative coefficient difference)."""
    theirs = Transfer("poly11", published, "srgb8")
    difference = np.max(np.abs(ours._evaluate64(points) - theirs._evaluate64(points)))
    scale = np.maximum(np.abs(published), 1e-12)
    return float(difference), float(np.max(np.abs(ours.params - published) / scale))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patch-dir", type=Path, default=DEFAULT_PATCH_DIR)
    parser.add_argument("--published", type=Path, default=None,
                        help="folder with the published <image>.npy and <image>_reverse.npy")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest mapped-colour difference (8-bit units) that counts as a match")
    parser.add_argument("--speed", action="store_true", help="also time apply / apply_uint8")
    parser.add_argument("--megapixels", type=float, default=6.0)
    args = parser.parse_args(argv)

    files = sorted(args.patch_dir.glob("*.csv"))
    if not files:
        print(f"no patch-colour files in {args.patch_dir}", file=sys.stderr)
        return 2
    standard = read_standard_srgb(dtype=np.float64)
    # the unzipped folder may nest the files one level down: index them by name
    published_index = (
        {file.name: file for file in sorted(args.published.rglob("*.npy"))} if args.published else {}
    )
    if args.published is not None and not published_index:
        print(f"no .npy files under {args.published}", file=sys.stderr)
        return 2
    points = None
    forward_rms, forward_max, reverse_rms, reverse_max, loo = [], [], [], [], []
    matches = {"forward": 0, "reverse": 0}
    compared = {"forward": 0, "reverse": 0}
    worst: dict[str, list[tuple[float, str]]] = {"forward": [], "reverse": []}
    start = time.perf_counter()
    for path in files:
        image = read_patch_colors_csv(path, dtype=np.float64)
        forward = fit("poly11", image, standard)
        reverse = fit("poly11", standard, image)
        residual_f = forward._evaluate64(image) - standard
        residual_r = reverse._evaluate64(standard) - image
        forward_rms.append(np.sqrt(np.mean(residual_f**2)))
        forward_max.append(np.max(np.abs(residual_f)))
        reverse_rms.append(np.sqrt(np.mean(residual_r**2)))
        reverse_max.append(np.max(np.abs(residual_r)))
        loo.append(loo_residual("poly11", image, standard))
        if args.published is not None:
            if points is None:
                points = _grid()
            for direction, ours, suffix, own in (
                ("forward", forward, "", image),
                ("reverse", reverse, "_reverse", standard),
            ):
                published_file = published_index.get(f"{path.stem}{suffix}.npy")
                if published_file is None:
                    continue
                published = np.load(published_file, allow_pickle=False).astype(np.float64)
                if published.shape != (3, 11):
                    print(f"{published_file}: shape {published.shape}, expected (3, 11)", file=sys.stderr)
                    continue
                difference, _ = _compare(ours, published, np.vstack([own, points]))
                compared[direction] += 1
                matches[direction] += difference <= args.tolerance
                worst[direction].append((difference, path.stem))
    elapsed = time.perf_counter() - start
    loo_all = np.concatenate(loo)

    print(f"# poly11 self-consistency on {len(files)} patch-colour files ({args.patch_dir})")
    print(f"# fit + residuals + leave-one-out for all files: {elapsed:.2f} s")
    print()
    print(f"| {'quantity (8-bit units / ΔE00)':44s} |      mean |    median |       p95 |       max |")
    print(f"|{'-' * 46}|-----------|-----------|-----------|-----------|")
    print(f"| {'image -> standard: RMS residual per image':44s} | {_stats(forward_rms)} |")
    print(f"| {'image -> standard: max residual per image':44s} | {_stats(forward_max)} |")
    print(f"| {'standard -> image: RMS residual per image':44s} | {_stats(reverse_rms)} |")
    print(f"| {'standard -> image: max residual per image':44s} | {_stats(reverse_max)} |")
    print(f"| {'image -> standard: leave-one-out ΔE00/patch':44s} | {_stats(loo_all)} |")
    if args.published is not None:
        print()
        print(f"# comparison with the published mappings in {args.published} "
              f"(tolerance {args.tolerance} in 8-bit units)")
        for direction, label in (("forward", "image -> standard (<image>.npy)"),
                                 ("reverse", "standard -> image (<image>_reverse.npy)")):
            within = [d for d, _ in worst[direction] if d <= args.tolerance]
            largest = f", largest difference among matches {max(within):.3g}" if within else ""
            print(f"{label}: {matches[direction]} of {compared[direction]} match{largest}")
            bad = sorted(worst[direction], reverse=True)[:12]
            for difference, stem in bad:
                if difference > args.tolerance:
                    print(f"    {stem}: max difference {difference:.4g}")
    else:
        print()
        print("# published mappings not compared (pass --published DIR with the unzipped "
              "polynomial_matching_coefficients folder)")

    if args.speed:
        _speed(args.megapixels, files[0], standard)
    return 0


def _speed(megapixels: float, first: Path, standard: np.ndarray) -> None:
    image_patches = read_patch_colors_csv(first, dtype=np.float64)
    transfer = fit("poly11", image_patches, standard).then(fit("poly11", standard, image_patches[::-1]))
    pixels = int(megapixels * 1e6)
    photo = REPO.parent / "shared" / "data" / "real" / "photos__JTvD_arcu_colorchecker" / "color_checker (1).jpg"
    import cv2

    source = cv2.imread(str(photo), cv2.IMREAD_COLOR) if photo.is_file() else None
    if source is not None:
        scale = np.sqrt(pixels / (source.shape[0] * source.shape[1]))
        size = (int(source.shape[1] * scale), int(source.shape[0] * scale))
        image = cv2.resize(source, size, interpolation=cv2.INTER_LINEAR)[..., ::-1].copy()
        origin = f"{photo.name} resized (bilinear)"
    else:
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, (pixels, 3), dtype=np.uint8)
        origin = "uniform random colours"
    channels = np.asarray(image).astype(np.int32)
    codes = (channels[..., 0] << 16) | (channels[..., 1] << 8) | channels[..., 2]
    distinct = int(np.count_nonzero(np.bincount(codes.reshape(-1), minlength=1 << 24)))
    pixels = image.shape[0] * image.shape[1]
    print()
    print(f"# speed, poly11 two-step chain, {origin}: {image.shape[1]}x{image.shape[0]} = "
          f"{pixels / 1e6:.1f} MP, {distinct} distinct colours (best of 2)")
    for label, call in (
        ("apply (float32, row blocks)", lambda: transfer.apply(image)),
        ("apply + rint -> uint8", lambda: np.clip(np.rint(transfer.apply(image)), 0, 255).astype(np.uint8)),
        ("apply_uint8 (distinct-colour LUT)", lambda: transfer.apply_uint8(image)),
    ):
        best = np.inf
        for _ in range(2):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        print(f"| {label:36s} | {best:7.3f} s | {pixels / best / 1e6:7.1f} MP/s |")


if __name__ == "__main__":
    sys.exit(main())
