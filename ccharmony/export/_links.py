"""
Export output (private)
=======================

Write an export so that a reader never sees half of one, and place files
without re-encoding them:

-   :class:`ExportResult`: what an export wrote.
-   :func:`staged_output`: a context manager that yields a hidden staging folder
    beside ``out`` and renames it to ``out`` when the block succeeds.
-   :class:`FilePlacer`: put a source file at a path of the export as a hard
    link, as a symlink where a hard link is impossible (another file system),
    or as a copy when asked to.
-   :func:`write_text`, :func:`write_bytes`: the export's own small files.
-   :func:`check_out`: refuse an output folder that overlaps the dataset.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ccharmony._types import PathType
from ccharmony.dataset.layout import (
    COMPOSITE_DIR,
    MASK_DIR,
    METADATA_FILE,
    REAL_DIR,
    SPLITS,
)
from ccharmony.errors import DatasetError
from ccharmony.export._source import SourceDataset, container_of

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "ExportResult",
    "FilePlacer",
    "staged_output",
    "place_ihd_folder",
    "write_text",
    "write_bytes",
    "check_out",
]

DEFAULT_SHARD_SIZE = 256
"""Composites per shard of the shard formats (a Parquet file for ``hf``, a tar file for ``webdataset``)."""


@dataclass(frozen=True)
class ExportResult:
    """
    Describe a finished export.

    Parameters
    ----------
    format
        A key of :attr:`ccharmony.export.EXPORT_FORMATS`.
    out
        The export folder.
    samples
        Composites per split.
    placed
        Files placed per way: ``{"hardlink": n, "symlink": n, "copy": n}``
        (``dovenet``, ``iih``); the shard formats embed the bytes instead.
    shards
        Shard files per split (``hf``, ``webdataset``).
    load
        The one line that loads the export.
    """

    format: str
    out: Path
    samples: Mapping[str, int]
    placed: Mapping[str, int] = field(default_factory=dict)
    shards: Mapping[str, int] = field(default_factory=dict)
    load: str = ""

    def summary(self) -> str:
        """Return a one-line human summary."""
        counts = ", ".join(f"{split} {count}" for split, count in self.samples.items())
        details = ""
        if self.placed:
            details = "; files: " + ", ".join(f"{count} {way}" for way, count in self.placed.items() if count)
        if self.shards:
            details = "; shards: " + ", ".join(f"{split} {count}" for split, count in self.shards.items())
        return f"exported {self.format} to {self.out}: {counts}{details}"


def check_out(root: Path, out: PathType) -> Path:
    """
    Return the absolute output folder, refusing one that overlaps ``root``.

    Raises
    ------
    DatasetError
        When ``out`` is inside the dataset folder, contains it, or exists and
        is not an empty folder.
    """
    target = Path(out).absolute()
    resolved = target.resolve()
    if resolved == root or resolved.is_relative_to(root) or root.is_relative_to(resolved):
        raise DatasetError(
            f"--out {out}: overlaps the dataset folder {root}; write the export to a folder outside it"
        )
    if (target.exists() or target.is_symlink()) and (
        not target.is_dir() or target.is_symlink() or any(target.iterdir())
    ):
        raise DatasetError(f"--out {out}: already exists and is not an empty folder; choose a new path")
    return target


@contextlib.contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """
    Yield a staging folder that becomes ``out`` when the block succeeds.

    Parameters
    ----------
    out
        The export folder; it must not exist or be an empty folder (see
        :func:`check_out`).

    Yields
    ------
    pathlib.Path
        A new hidden folder beside ``out``.

    Notes
    -----
    On error the staging folder is removed and ``out`` is left as it was;
    the rename is atomic on one file system, so a reader sees no export or a
    whole one.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{secrets.token_hex(6)}.partial")
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        if out.is_dir():
            out.rmdir()  # empty (checked before), replaced by the staged one
        os.replace(staging, out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DatasetError(f"--out {out}: cannot move the finished export there ({error.strerror or error})") from None


class FilePlacer:
    """
    Place source files in an export: hard link, else symlink, or copy.

    Parameters
    ----------
    copy
        Copy every file (``--copy``) instead of linking.

    Notes
    -----
    A hard link shares the file's bytes (nothing is re-encoded, nothing is
    duplicated on disk). Where the export is on another file system (``EXDEV``)
    or the file system refuses hard links, an absolute symlink to the resolved
    source is made instead. The same target placed twice from the same source is
    a no-op; from two different sources it is an error (two entries would
    collide in the export's layout).
    """

    def __init__(self, *, copy: bool = False) -> None:
        self.copy = bool(copy)
        self.placed: dict[str, int] = {"hardlink": 0, "symlink": 0, "copy": 0}
        self._sources: dict[Path, Path] = {}

    def place(self, source: Path, target: Path) -> None:
        """
        Put ``source`` (a resolved file) at ``target`` (a new path in the export).

        Raises
        ------
        DatasetError
            When two different sources map to ``target``, or the file can be
            neither linked nor copied.
        """
        previous = self._sources.get(target)
        if previous is not None:
            if previous != source:
                raise DatasetError(
                    f"{source} and {previous} both map to {target.name} in the export's layout; "
                    "their names collide (rename one of the images)"
                )
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.copy:
                shutil.copyfile(source, target)
                self.placed["copy"] += 1
            else:
                self._link(source, target)
        except OSError as error:
            raise DatasetError(
                f"{target}: cannot place {source} there ({error.strerror or error}); "
                "check the output folder's permissions and free space"
            ) from None
        self._sources[target] = source

    def _link(self, source: Path, target: Path) -> None:
        try:
            os.link(source, target)
            self.placed["hardlink"] += 1
            return
        except OSError as error:
            # EXDEV: another file system; EPERM/EMLINK/ENOTSUP/EACCES: hard links refused there.
            if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
        os.symlink(source, target)
        self.placed["symlink"] += 1


def write_bytes(path: Path, data: bytes) -> None:
    """Write one of the export's own files (inside the staging folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_bytes(data)
    except OSError as error:
        raise DatasetError(f"{path}: cannot write it ({error.strerror or error})") from None


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text (``\\n`` line ends) as one of the export's own files."""
    write_bytes(path, text.encode("utf-8"))


def place_ihd_folder(source: SourceDataset, base: Path, placer: FilePlacer) -> dict[str, list[str]]:
    """
    Lay out one iHarmony4 sub-dataset folder: the three image folders.

    Parameters
    ----------
    source
        The dataset read by :func:`ccharmony.export._source.read_source`.
    base
        The folder to fill (``OUT/<Name>`` for DoveNet, ``OUT`` for IIH).
    placer
        How files are placed.

    Returns
    -------
    dict
        Split -> composite file names in list order (bare, as the lists of the
        iHarmony4 sub-datasets give them).

    Raises
    ------
    DatasetError
        When a real image is not a JPEG file or a mask not a PNG file: the
        peers find them as ``real_images/<id>.jpg`` and ``masks/<id>_<fg>.png``
        and no pixel is re-encoded here. Also as :meth:`FilePlacer.place`.

    Notes
    -----
    The names follow the rule every iHarmony4 reader applies to a composite
    ``<id>_<fg>_<k>.<ext>``: real image ``real_images/<id>.jpg``, mask
    ``masks/<id>_<fg>.png``, beside ``composite_images/``. ``metadata.parquet``
    (its file names are relative to the folder, so they stay valid) and the
    card with its plots and ``build.json`` are placed too.
    """
    names: dict[str, list[str]] = {}
    containers: dict[Path, str] = {}
    for split in SPLITS:
        names[split] = []
        for sample in source.samples[split]:
            for path, wanted, label in ((sample.real, "jpeg", "real image"), (sample.mask, "png", "mask")):
                kind = containers.get(path) or containers.setdefault(path, container_of(path))
                if kind != wanted:
                    raise DatasetError(
                        f"{path}: the {label} of {sample.key} is {kind}, but iHarmony4 readers open it as "
                        f"{'<id>.jpg' if wanted == 'jpeg' else '<id>_<fg>.png'}; export does not re-encode pixels"
                    )
            placer.place(sample.composite, base / COMPOSITE_DIR / sample.name)
            placer.place(sample.real, base / REAL_DIR / f"{sample.image_id}.jpg")
            placer.place(sample.mask, base / MASK_DIR / f"{sample.image_id}_{sample.foreground}.png")
            names[split].append(sample.name)
    if source.metadata is not None:
        placer.place(source.metadata, base / METADATA_FILE)
    for relative, path in source.provenance.items():
        placer.place(path, base / relative)
    return names
