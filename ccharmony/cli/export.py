"""``ccharmony export``: views of a dataset in other codebases' layouts."""

from __future__ import annotations

import argparse

from ccharmony.cli._common import EXIT_OK, register, subparser

__author__ = "ccharmony developers"
__license__ = "MIT"

_FORMATS = ("dovenet", "iih", "hf", "webdataset")


@register
def _add_export(sub: argparse._SubParsersAction) -> None:
    p = subparser(
        sub, "export",
        "lay out a dataset for another codebase (DoveNet, IIH/HT, Hugging Face, WebDataset) without re-encoding",
        "ccharmony export dataset --format hf --out dataset-hf",
    )
    p.add_argument("dataset", metavar="DIR", help="dataset folder (ccharmony build output)")
    p.add_argument("--format", required=True, choices=_FORMATS,
                   help="dovenet: IHD_train.txt at an iHarmony4 root; iih: <Name>_train.txt lists; "
                        "hf: Parquet shards + card for datasets.load_dataset; webdataset: tar shards")
    p.add_argument("--out", required=True, metavar="OUT", help="export folder (new or empty, outside DIR)")
    p.add_argument("--copy", action="store_true",
                   help="dovenet, iih: copy the files instead of hard-linking them (symlinks across file systems)")
    p.add_argument("--shard-size", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="hf, webdataset: composites per shard (default 256)")
    p.add_argument("--name", default=None,
                   help="dataset name in the export (DoveNet sub-folder, IIH --dataset_name); default: from DIR's lists")
    p.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from ccharmony.export import export_dataset

    options: dict[str, object] = {}
    if args.copy:
        options["copy"] = True
    if getattr(args, "shard_size", None) is not None:
        options["shard_size"] = args.shard_size
    if args.name is not None:
        options["name"] = args.name
    result = export_dataset(args.dataset, args.out, format=args.format, **options)
    print(result.summary())
    print(f"load: {result.load}")
    return EXIT_OK
