"""``ccharmony harmonize``: apply a trained model to one composite."""

from __future__ import annotations

from pathlib import Path

from ccharmony.cli._common import (
    EXIT_OK,
    add_max_pixels_argument,
    int_range,
    printable,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"

_OUTPUT_FORMATS = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg"}
"""Output extension -> the format written: the file is what its name says."""

MAX_SIZE = 2048
"""Largest ``--size``: the model's memory grows with its square (GiftNet at 2048 needs several GB)."""


def _output_path(text: str) -> Path:
    """``-o``: a .png, .jpg or .jpeg file name (the format follows the extension)."""
    import argparse

    path = Path(text)
    if path.suffix.lower() not in _OUTPUT_FORMATS:
        raise argparse.ArgumentTypeError(
            f"must end in .png, .jpg or .jpeg (the format written follows the extension), got {text!r}")
    return path


@register
def _add_harmonize(sub):  # noqa: ANN001, ANN202
    p = subparser(
        sub, "harmonize", "harmonize one composite with a trained model",
        "ccharmony harmonize --checkpoint runs/000_benchmark/giftnet/checkpoints/last.pt "
        "dataset/composite_images/Synth5DMarkII-0001_a_1.jpg dataset/masks/Synth5DMarkII-0001_a.png -o out.png",
    )
    p.add_argument("composite", help="composite image (JPEG/PNG/TIFF, 8-bit sRGB)")
    p.add_argument("mask", help="foreground mask (values above 127 are foreground)")
    p.add_argument("--checkpoint", required=True, help="checkpoint of a trained model")
    p.add_argument("-o", "--output", required=True, type=_output_path,
                   help="output image: .png (lossless) or .jpg/.jpeg (quality 95, 4:4:4)")
    p.add_argument("--size", type=int_range(16, MAX_SIZE), default=None,
                   help="side the model runs at, 16 to 2048 (default: the checkpoint's inference size)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"], help="device")
    add_max_pixels_argument(p)
    p.set_defaults(run=_run_harmonize)


def _run_harmonize(args) -> int:  # noqa: ANN001
    from ccharmony.errors import AnnotationError, UsageError
    from ccharmony.harmonization.predict import harmonize, load_model
    from ccharmony.io.atomic import atomic_write_bytes
    from ccharmony.io.encode import decode_mask, encode_image
    from ccharmony.io.rendered import read_srgb8

    output: Path = args.output
    if output.is_dir():
        raise UsageError(f"-o {output}: is a folder; give an image file name")
    if not output.parent.is_dir():
        raise UsageError(f"-o {output}: folder {output.parent} does not exist")
    model, meta = load_model(args.checkpoint, device=args.device)
    composite = read_srgb8(args.composite, max_pixels=args.max_pixels)
    mask = decode_mask(args.mask, max_pixels=args.max_pixels)
    if mask.shape != composite.shape[:2]:
        raise AnnotationError(
            f"{args.mask}: mask is {mask.shape[1]}x{mask.shape[0]} (width x height) but the composite "
            f"{args.composite} is {composite.shape[1]}x{composite.shape[0]}"
        )
    size = args.size or int(meta.get("inference_size") or 256)
    result = harmonize(composite, mask, model=model, inference_size=size, device=args.device)
    extension = _OUTPUT_FORMATS[output.suffix.lower()]
    atomic_write_bytes(output, encode_image(result, extension, quality=95, chroma_444=True))
    print(f"{printable(output)}: harmonized with {printable(meta.get('model_name'))} at {size}x{size}")
    return EXIT_OK
