"""
Colour transfer against physics on synthetic scenes.

For every ordered pair (source capture, target capture) of a set of synthetic
captures (:mod:`ccharmony.synth`: one camera, measured ColorChecker and object
reflectances, one scene per capture, illuminants from every family), each
transfer method maps the source foreground's colours with a fit on the two
charts and is compared with the same foreground physically rendered under the
target's illuminant:

-   truth: the source scene's foreground pixels (reflectance x shading) seen
    through the target's spectral response (camera, illuminant, exposure),
    times ``chart_gain_target / chart_gain_source`` so that the source chart
    relit this way reads exactly the target chart's colours (the chart sets
    the brightness, as in ccHarmony);
-   linear methods (``root-poly2``, ``linear3x3``, ``diagonal``): fitted source
    chart -> target chart in linear camera RGB, applied to the source pixels;
-   ``poly11`` (published ccHarmony): charts and the source foreground rendered
    to 8-bit sRGB with the fixed pipeline (:mod:`ccharmony.render`, the
    camera's D65 matrix), mapped source -> standard -> target with
    :meth:`Transfer.apply_uint8`, then linearised back to camera RGB with the
    inverse of the same pipeline;
-   ``none``: the source pixels unchanged (the error of doing nothing).

Chart colours are noise-free means. Errors are per foreground pixel: the
angle between predicted and true camera RGB (degrees) and CIEDE2000 with
L*a*b* from the camera's XYZ -> camera matrix, L* = 100 at the target white
patch's luminance.

Run::

    python benchmarks/transfer_physics.py [--captures 15] [--camera "Nikon D5100"] [--pixels 1500]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ccharmony.render import linearise_srgb_float, render_srgb, render_srgb_float, rendering_parameters
from ccharmony.transfer import TRANSFER_METHODS, delta_E_patches, fit_transitive

ILLUMINANTS = (
    "D4000", "D5000", "D6500", "D8000", "D10000",
    "BB2500", "BB3000", "BB3500", "BB4000",
    "FL2", "FL7", "FL11",
    "LED-B1", "LED-B3", "LED-V1",
)
"""Spread over every synth illuminant family."""


def _captures(camera: str, count: int, pixels: int, seed: int) -> list[dict]:
    from ccharmony.synth.scene import generate_scene
    from ccharmony.synth.spectra import chart_reflectances, spectral_response

    rng = np.random.default_rng(seed)
    captures = []
    for index in range(count):
        illuminant = ILLUMINANTS[index % len(ILLUMINANTS)]
        level = float(rng.uniform(0.25, 0.9))  # exposure of the white patch before chart lighting
        K_unit = spectral_response(camera, illuminant)
        gain = level / float((chart_reflectances()[18] @ K_unit).max())
        scene = generate_scene((256, 192), (seed, index, 1))
        foreground = np.zeros(scene.material.shape, dtype=bool)
        for mask in scene.masks.values():
            foreground |= mask
        rows, cols = np.nonzero(foreground)
        pick = rng.choice(rows.size, size=min(pixels, rows.size), replace=False)
        captures.append({
            "illuminant": illuminant,
            "K": gain * K_unit,
            "chart_gain": scene.chart_gain,
            "patches": scene.chart_gain * (scene.reflectances[:24] @ (gain * K_unit)),
            "reflectances": scene.reflectances[scene.material[rows[pick], cols[pick]]],
            "shading": scene.shading[rows[pick], cols[pick]].astype(np.float64),
        })
    return captures


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cosine = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captures", type=int, default=len(ILLUMINANTS))
    parser.add_argument("--camera", default="Nikon D5100")
    parser.add_argument("--pixels", type=int, default=1500, help="foreground pixels sampled per scene")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        from ccharmony.synth.spectra import matrix_XYZ_to_camera
    except ImportError as error:
        print(f"ccharmony.synth is not available ({error}); nothing to measure", file=sys.stderr)
        return 2

    start = time.perf_counter()
    captures = _captures(args.camera, args.captures, args.pixels, args.seed)
    M_XYZ_to_camera = matrix_XYZ_to_camera(args.camera)
    render = rendering_parameters(M_XYZ_to_camera)
    methods = ["none", *TRANSFER_METHODS]
    angles: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    delta_E: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    clipped_truth = 0
    total = 0
    for i, source in enumerate(captures):
        source_pixels = source["shading"][:, None] * (source["reflectances"] @ source["K"])
        source_uint8 = render_srgb(source_pixels, camera_matrix=render)
        source_chart_srgb = render_srgb_float(source["patches"], camera_matrix=render)
        for j, target in enumerate(captures):
            if i == j:
                continue
            truth = (target["chart_gain"] / source["chart_gain"]) * source["shading"][:, None] * (
                source["reflectances"] @ target["K"]
            )
            clipped_truth += int(np.count_nonzero(np.any(render_srgb_float(truth, camera_matrix=render) >= 255, axis=1)))
            total += truth.shape[0]
            Y_white = float((np.linalg.inv(M_XYZ_to_camera) @ target["patches"][18])[1])
            for method in methods:
                if method == "none":
                    predicted = source_pixels
                elif method == "poly11":
                    target_chart_srgb = render_srgb_float(target["patches"], camera_matrix=render)
                    transfer = fit_transitive("poly11", source_chart_srgb, target_chart_srgb)
                    predicted = linearise_srgb_float(transfer.apply_uint8(source_uint8), camera_matrix=render)
                else:
                    transfer = fit_transitive(method, source["patches"], target["patches"])
                    predicted = transfer.apply(source_pixels)
                angles[method].append(_angles(predicted.astype(np.float64), truth))
                delta_E[method].append(
                    delta_E_patches(predicted, truth, domain="linear", camera_matrix=M_XYZ_to_camera, Y_white=Y_white)
                )
    elapsed = time.perf_counter() - start

    pairs = len(captures) * (len(captures) - 1)
    print(f"# transfer vs physics: {args.camera}, {len(captures)} synthetic captures "
          f"({', '.join(c['illuminant'] for c in captures)}), {pairs} ordered pairs, "
          f"{args.pixels} foreground pixels per scene, seed {args.seed}; {elapsed:.1f} s")
    print(f"# {clipped_truth / max(total, 1):.1%} of true foreground pixels are outside the 8-bit sRGB range "
          "(poly11 cannot reproduce those)")
    print()
    print("| method     | angle mean | angle median | angle p95 | ΔE00 mean | ΔE00 median | ΔE00 p95 |")
    print("|------------|-----------:|-------------:|----------:|----------:|------------:|---------:|")
    for method in methods:
        a = np.concatenate(angles[method])
        e = np.concatenate(delta_E[method]).astype(np.float64)
        print(f"| {method:10s} | {np.mean(a):9.3f}° | {np.median(a):11.3f}° | {np.percentile(a, 95):8.3f}° "
              f"| {np.nanmean(e):9.3f} | {np.nanmedian(e):11.3f} | {np.nanpercentile(e, 95):8.3f} |")
    median_root = float(np.median(np.concatenate(angles["root-poly2"])))
    verdict = "PASS" if median_root <= 1.0 else "FAIL"
    print()
    print(f"root-poly2 median angular error {median_root:.3f}° (target <= 1.0°): {verdict}")
    return 0 if median_root <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
