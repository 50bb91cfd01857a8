"""
Verification report: checks, summary, text and JSON forms (private to :mod:`ccharmony.dataset.verify`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ccharmony._text import printable
from ccharmony._types import PathType
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

Status = Literal["ok", "problem", "skipped", "note"]
STATUSES: tuple[str, ...] = ("ok", "problem", "skipped", "note")

CHECKS: dict[str, str] = {
    "layout": "the folders and exactly one <Name>train.txt and one <Name>test.txt "
              "(or iHarmony4's <Name>_train.txt) exist",
    "build-complete": "the folder is a finished build: no .ccharmony-build/ work folder left, and a folder with "
                      "metadata.parquet also has build.json and DATASET_CARD.md",
    "paths-inside": "every file named by the lists and metadata.parquet, or found in the folder, stays inside it "
                    "(no '..' or folder in a list line, no symbolic link out, only regular files)",
    "naming": "composite names follow <image-id>_<foreground>_<k>.<ext> (ids without '_'), "
              "real images <id>.jpg, masks <id>_<fg>.png",
    "files-exist": "every composite, mask and real image named by the lists and metadata.parquet exists",
    "decode": "every file is complete (JPEG EOI / PNG IEND) and decodes",
    "sha256": "every file has the sha256 recorded in metadata.parquet",
    "recorded-size": "every composite has the width and height recorded in metadata.parquet",
    "metadata-rows": "metadata.parquet has the required columns and exactly one row per listed composite, "
                     "with its split and file names",
    "metadata-values": "the illuminants, illuminant angles, foreground ratios and sizes in metadata.parquet "
                       "are finite numbers",
    "sizes-agree": "each composite, its mask and its real image have the same size",
    "mask-binary": "masks hold two values only (0 and one foreground value)",
    "mask-nonempty": "masks have foreground pixels",
    "mask-not-full": "masks do not cover the whole image",
    "outside-mask-equal": "composites equal their real image outside the mask (exactly for lossless files, "
                          "within the measured JPEG error otherwise)",
    "inside-mask-differs": "composites differ from their real image inside the mask beyond the codec error",
    "split-duplicates": "no line appears twice in the split lists",
    "split-exclusive": "every composite is in exactly one split list",
    "split-coverage": "every composite on disk is in a split list",
    "splits-nonempty": "the train and the test split each list at least one composite",
    "split-source-leakage": "no source image has composites in both splits",
    "split-near-duplicates": "no source image in one split is a near duplicate (perceptual hash) of one in the other",
    "counts-build": "the counts in build.json match the folder",
    "counts-card": "the split sizes in DATASET_CARD.md's front matter match the folder",
    "deep-reapply": "re-applying each recorded transfer to the real image and mask gives the stored composite "
                    "(within the same tolerance rules)",
}
"""Every check :func:`~ccharmony.dataset.verify.verify_dataset` reports, by name, in report order."""


@dataclass
class Check:
    """
    One named check of a verification report.

    Attributes
    ----------
    name
        A key of :data:`CHECKS`.
    status
        ``ok``, ``problem`` (something is wrong), ``skipped`` (does not apply
        to this folder or was not requested) or ``note`` (informational).
    files
        The files involved (relative to the dataset folder), sorted.
    detail
        One-line explanation.
    evidence
        File -> what was found there, for the files of a problem.
    """

    name: str
    status: Status
    files: list[str] = field(default_factory=list)
    detail: str = ""
    evidence: dict[str, str] = field(default_factory=dict)


@dataclass
class VerifyReport:
    """
    Result of :func:`~ccharmony.dataset.verify.verify_dataset`.

    Attributes
    ----------
    dataset
        The folder verified.
    checks
        One :class:`Check` per name of :data:`CHECKS`, then any notes.
    summary
        Counts per split and camera, histograms, JPEG qualities, problem names.
    deep
        Whether the deep check was requested.
    """

    dataset: str
    checks: list[Check]
    summary: dict[str, Any]
    deep: bool = False

    @property
    def ok(self) -> bool:
        """True when no check found a problem."""
        return not any(check.status == "problem" for check in self.checks)

    @property
    def problems(self) -> list[Check]:
        """The checks that found a problem."""
        return [check for check in self.checks if check.status == "problem"]

    def check(self, name: str) -> Check:
        """Return the check called ``name``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary of the whole report."""
        return {"dataset": self.dataset, "ok": self.ok, "deep": self.deep,
                "checks": [asdict(check) for check in self.checks], "summary": self.summary}

    def write_json(self, path: PathType) -> None:
        """
        Write :meth:`to_dict` as JSON to ``path`` atomically (temporary file, then rename).

        Raises
        ------
        DatasetError
            When ``path`` cannot be written; the message names ``path`` (never
            the temporary file) and the reason.
        """
        target = Path(path)
        check_report_destination(target)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        temporary: str | None = None
        try:
            # A short temporary name: "<name>.<random>.tmp" would pass the 255-byte name limit
            # for a long destination name that is itself valid.
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".verify-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, target)
        except OSError as error:
            raise DatasetError(f"cannot write report {target}: {error.strerror or error}") from None
        finally:
            if temporary is not None and os.path.lexists(temporary):
                Path(temporary).unlink(missing_ok=True)


def check_report_destination(path: PathType) -> None:
    """
    Raise unless ``path`` can be a report file: its folder exists and is writable, and it is no folder.

    Called before the checks run (they may take minutes) and again when writing.

    Raises
    ------
    DatasetError
        One line naming ``path`` and the reason.

    Examples
    --------
    >>> check_report_destination("/no/such/folder/verify.json")
    Traceback (most recent call last):
    ...
    ccharmony.errors.DatasetError: cannot write report /no/such/folder/verify.json: folder /no/such/folder does not exist
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise DatasetError(f"cannot write report {target}: folder {folder} does not exist")
    if target.is_dir():
        raise DatasetError(f"cannot write report {target}: is a folder; give a file name")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise DatasetError(f"cannot write report {target}: exists and is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatasetError(f"cannot write report {target}: folder {folder} is not writable")


_MARK = {"ok": "ok     ", "problem": "PROBLEM", "skipped": "skipped", "note": "note   "}


def _histogram_lines(title: str, histogram: dict[str, Any], width: int = 30) -> list[str]:
    counts = histogram.get("counts", [])
    edges = histogram.get("edges", [])
    if not counts or sum(counts) == 0:
        return []
    lines = [title]
    top = max(counts)
    for low, high, count in zip(edges[:-1], edges[1:], counts):
        bar = "#" * (round(width * count / top) if top else 0)
        lines.append(f"  {low:7.3g} - {high:<7.3g} {count:6d} {bar}")
    return lines


def format_report(report: VerifyReport, *, max_files: int = 5) -> str:
    """
    Return a readable multi-line summary of ``report`` for a terminal.

    Parameters
    ----------
    report
        The report.
    max_files
        How many of the files involved to show for each problem.

    Returns
    -------
    str
        Lines joined by newlines; every file name, camera and detail taken
        from the data is passed through :func:`ccharmony._text.printable`, so
        control characters (a composite named with ``ESC ]0; ... BEL``) and
        undecodable bytes print as escapes.
    """
    lines = [f"dataset {printable(report.dataset)}"]
    summary = report.summary
    splits = summary.get("splits", {})
    if splits:
        lines.append("split        composites  foregrounds  images")
        for split, counts in splits.items():
            lines.append(f"  {split:10s} {counts['composites']:10d} {counts['foregrounds']:12d} {counts['images']:7d}")
    cameras = summary.get("cameras", {})
    if cameras:
        lines.append("camera (composites per split)")
        for camera, per_split in cameras.items():
            text = ", ".join(f"{split} {count}" for split, count in per_split.items())
            lines.append(f"  {printable(camera)}: {text}")
    lines += _histogram_lines("foreground ratio (foregrounds)", summary.get("foreground_ratio", {}))
    lines += _histogram_lines("illuminant angle, degrees (composites)", summary.get("illuminant_angle_deg", {}))
    qualities = summary.get("jpeg_quality", {})
    if qualities:
        lines.append("JPEG quality of composites: " + ", ".join(f"q{q} x{n}" for q, n in qualities.items()))
    lines.append("checks")
    for check in report.checks:
        lines.append(f"  {_MARK[check.status]} {check.name}: {printable(check.detail)}")
        if check.status == "problem":
            for name in check.files[:max_files]:
                reason = check.evidence.get(name)
                lines.append(f"      {printable(name)}" + (f": {printable(reason)}" if reason else ""))
            if len(check.files) > max_files:
                lines.append(f"      ... and {len(check.files) - max_files} more (see --json)")
    problems = report.problems
    if problems:
        lines.append(f"{len(problems)} check(s) found problems: " + ", ".join(check.name for check in problems))
    else:
        lines.append("sound: no problems found")
    return "\n".join(lines)
