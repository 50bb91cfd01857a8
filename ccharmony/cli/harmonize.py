"""``ccharmony harmonize``: apply a trained model to one composite."""

from __future__ import annotations

from ccharmony.cli._common import (
    EXIT_OK,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_harmonize(sub):  # noqa: ANN001, ANN202
    p = subparser(
        sub, "harmonize", "harmonize one composite with a trained model",
        "ccharmony harmonize --checkpoint runs/000_benchmark/giftnet/checkpoints/last.pt comp.jpg mask.png -o out.png",
    )
    p.add_argument("composite", help="composite image (JPEG/PNG, 8-bit sRGB)")
    p.add_argument("mask", help="foreground mask (values above 127 are foreground)")
    p.add_argument("--checkpoint", required=True, help="checkpoint of a trained model")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--size", type=int, default=None,
                   help="side the model runs at (None: the checkpoint's inference size)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"], help="device")
    p.set_defaults(run=_run_harmonize)


def _run_harmonize(args) -> int:  # noqa: ANN001
    from ccharmony.harmonization.data import read_mask, read_rgb
    from ccharmony.harmonization.predict import harmonize, load_model
    from ccharmony.harmonization.report import write_png
    from ccharmony.errors import AnnotationError

    model, meta = load_model(args.checkpoint, device=args.device)
    composite = read_rgb(args.composite)
    mask = read_mask(args.mask)
    if mask.shape != composite.shape[:2]:
        raise AnnotationError(
            f"{args.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but the composite is "
            f"{composite.shape[1]}x{composite.shape[0]}"
        )
    size = args.size or int(meta.get("inference_size") or 256)
    output = harmonize(composite, mask, model=model, inference_size=size, device=args.device)
    write_png(args.output, output)
    print(f"{args.output}: harmonized with {meta.get('model_name')} at {size}x{size}")
    return EXIT_OK
