"""``ccharmony benchmark``: train and evaluate harmonization models."""

from __future__ import annotations

import os
import sys

from ccharmony.cli._common import (
    EXIT_OK,
    register,
    subparser,
)

__author__ = "ccharmony developers"
__license__ = "MIT"


@register
def _add_benchmark(sub):  # noqa: ANN001, ANN202
    p = subparser(
        sub, "benchmark", "train and compare harmonization models (GiftNet re-implementation and baselines)",
        "ccharmony benchmark giftnet --data dataset --out runs --preset cpu-smoke --save-predictions",
    )
    p.epilog = (
        "GiftNet (Niu et al., ICCV 2023) is a re-implementation from the paper's\n"
        "description: the official code and weights are unreleased.\n"
        "The cpu-smoke preset trains at 96x96 (width 16, 10 epochs, teacher 3)\n"
        "and evaluates at 256x256."
    )
    p.add_argument("suite", choices=["giftnet"], help="what to benchmark")
    p.add_argument("--data", required=True, help="dataset folder in the iHarmony4 layout (train and test lists)")
    p.add_argument("--out", default="runs", help="folder of numbered run folders (NNN_benchmark)")
    p.add_argument("--models", default="composite,reinhard,unet,unet-gift,unet-rd,giftnet",
                   help="comma-separated registered models")
    p.add_argument("--preset", default="cpu-smoke", choices=["cpu-smoke", "paper"],
                   help="training settings: cpu-smoke (2 CPU cores, minutes) or paper (GPU)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--teacher-epochs", type=int, default=None, help="override the teacher's epochs")
    p.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA with mixed precision when present, else CPU")
    p.add_argument("--psnr-peak", default="255", choices=["255", "max-real"], help="PSNR peak convention")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and augmentation")
    p.add_argument("--save-predictions", action="store_true", help="write every prediction as PNG at 256x256")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run folder")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(run=_run_benchmark)


def _run_benchmark(args) -> int:  # noqa: ANN001
    from ccharmony.harmonization.benchmark import BenchmarkOptions, run_benchmark

    options = BenchmarkOptions(
        models=tuple(name.strip() for name in args.models.split(",") if name.strip()),
        preset=args.preset, epochs=args.epochs, teacher_epochs=args.teacher_epochs,
        batch_size=args.batch_size, device=args.device, save_predictions=args.save_predictions,
        psnr_peak=args.psnr_peak, seed=args.seed, resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    result = run_benchmark(args.data, out_dir=args.out, options=options)
    if int(os.environ.get("RANK", "0")) != 0:
        # Under torchrun only rank 0 reports (the process group is already torn down here).
        return EXIT_OK
    print(f"{'model':<10} {'MSE':>8} {'fMSE':>8} {'PSNR':>6} {'fPSNR':>6} {'SSIM':>6} {'fSSIM':>6}")
    for model, entry in result.summary.items():
        m = entry["metrics"]
        print(f"{model:<10} {m['MSE']:8.2f} {m['fMSE']:8.2f} {m['PSNR']:6.2f} {m['fPSNR']:6.2f} "
              f"{m['SSIM']:6.4f} {m['fSSIM']:6.4f}")
    print(f"report: {result.paths['markdown']} ({result.seconds:.0f} s)")
    return EXIT_OK
