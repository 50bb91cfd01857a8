"""
Reproduce ccHarmony's published poly11 mappings from its patch colours.

For every ``patch_colors/<image>.csv`` the script fits, with
:func:`ccharmony.transfer.fit` (``poly11``), the two published directions:

-   forward, image -> standard (published as ``<image>.npy``; the demo
    ``demo_color_transfer.py`` applies it to the image itself), and
-   reverse, standard -> image (published as ``<image>_reverse.npy``),

and prints the self-consistency of each fit (RMS / max residual on the 24
patches in 8-bit units, leave-one-out ΔE00 for image -> standard).

The published maps (``--published DIR``, default the shipped
``annotations/ccharmony/polynomial_matching_coefficients``: ``(3, 11)`` float64
arrays, ``coef_`` of scikit-learn's ``LinearRegression(fit_intercept=False)``
on the terms ``[r, g, b, rg, rb, gb, r², g², b², rgb, 1]``) are read with
:func:`ccharmony.transfer.published.read_published_maps` and compared with
ours by :func:`ccharmony.transfer.published.compare_with_refit`, evaluating
both on the 24 patch colours (the standard's for the reverse maps) and a 9x9x9
grid of 8-bit colours: a map "matches" when the largest difference is at most
``--tolerance`` (8-bit units, before clipping). For the maps that do not match,
the RMS residual on the 24 patches of the published map and of the refit are
printed (a published map that fits worse than least squares was fitted on
other measurements). ``--published none`` skips the comparison.

``--speed`` also times :meth:`Transfer.apply` and :meth:`Transfer.apply_uint8`
on a random image of ``--megapixels`` MP.

Run::

    python benchmarks/transfer_published.py [--patch-dir DIR] [--published DIR|none] [--speed]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing

from ccharmony.io.patch_colors import read_patch_colors_csv, read_standard_srgb
from ccharmony.transfer import fit, loo_residual
from ccharmony.transfer.published import (
    REFIT_MISMATCHES,
    compare_with_refit,
    read_published_maps,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PATCH_DIR = REPO / "annotations" / "ccharmony" / "patch_colors"
DEFAULT_PUBLISHED = REPO / "annotations" / "ccharmony" / "polynomial_matching_coefficients"


def _stats(values: np.typing.ArrayLike) -> str:
    values = np.asarray(values, dtype=np.float64)
    cells = (np.mean(values), np.median(values), np.percentile(values, 95), np.max(values))
    return " | ".join(f"{value:9.4f}" for value in cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patch-dir", type=Path, default=DEFAULT_PATCH_DIR)
    parser.add_argument("--published", default=str(DEFAULT_PUBLISHED),
                        help="folder with the published <image>.npy and <image>_reverse.npy, or 'none'")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest mapped-colour difference (8-bit units) that counts as a match")
    parser.add_argument("--speed", action="store_true", help="also time apply / apply_uint8")
    parser.add_argument("--megapixels", type=float, default=6.0)
    args = parser.parse_args(argv)

    files = sorted(args.patch_dir.glob("*.csv"))
    if not files:
        print(f"no patch-colour files in {args.patch_dir}", file=sys.stderr)
        return 2
    standard = read_standard_srgb(dtype=np.float64)
    published_dir = None if args.published.lower() == "none" else Path(args.published)
    published = read_published_maps(published_dir) if published_dir is not None else {}
    forward_rms, forward_max, reverse_rms, reverse_max, loo = [], [], [], [], []
    comparisons = []
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
        if path.stem in published:
            comparisons.append(compare_with_refit(published[path.stem], image, standard=standard))
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
    print()
    if published_dir is None:
        print("# published maps not compared (--published none)")
    else:
        unmatched = sorted(set(published) - {c.image for c in comparisons})
        print(f"# refit vs the published maps in {published_dir} ({len(published)} images, "
              f"{len(comparisons)} with patch colours; tolerance {args.tolerance} in 8-bit units, "
              "on the patch colours and a 9x9x9 grid)")
        for direction, label in (("forward", "image -> standard (<image>.npy)"),
                                 ("reverse", "standard -> image (<image>_reverse.npy)")):
            differences = [getattr(c, f"{direction}_difference") for c in comparisons]
            within = [d for d in differences if d <= args.tolerance]
            largest = f", largest difference among matches {max(within):.3g}" if within else ""
            print(f"{label}: {len(within)} of {len(differences)} match{largest}")
            misses = sorted((c for c in comparisons if getattr(c, f"{direction}_difference") > args.tolerance),
                            key=lambda c: -getattr(c, f"{direction}_difference"))
            for c in misses:
                print(f"    {c.image}: max difference {getattr(c, f'{direction}_difference'):.4g}; RMS on the "
                      f"24 patches: published {getattr(c, f'{direction}_rms'):.2f}, "
                      f"refit {getattr(c, f'{direction}_rms_refit'):.2f}")
        missed = {c.image for c in comparisons if c.forward_difference > args.tolerance}
        print(f"forward mismatches == ccharmony.transfer.published.REFIT_MISMATCHES: {missed == REFIT_MISMATCHES}")
        if unmatched:
            print(f"published maps without patch colours: {', '.join(unmatched)}")

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
