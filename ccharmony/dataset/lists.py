"""
Split lists
===========

Read the split lists of a dataset folder, in every spelling the field uses,
with one reader that ``benchmark``, ``verify`` and the other readers share:

-   :func:`read_split_list`: the composites of one split (``"train"`` or
    ``"test"``), the list files read, and every problem found.
-   :func:`split_list_files`: the list files of a split in one folder (the
    iSSAM rule).
-   :func:`subset_folders`: the subset folders of an iHarmony4 root.
-   :class:`SplitList`, :class:`ListEntry`, :class:`ListProblem`: the records.

Spellings accepted
------------------

=================================  ============================================
layout                             lines
=================================  ============================================
ours: ``<Name>train.txt``          bare composite names, ``a_b_1.jpg``
iSSAM / iHarmony4 subset:          bare names (iSSAM joins them to
``<Name>_train.txt``               ``composite_images/``) or
                                   ``composite_images/a_b_1.jpg``
iHarmony4 root: ``IHD_train.txt``  ``HCOCO/composite_images/c1_1_1.jpg``
                                   (subset folder, then the composite)
iHarmony4 subsets, no root list:   each subset folder's own list, its lines
``HCOCO/HCOCO_train.txt``, ...     read relative to that folder
=================================  ============================================

A list of split ``s`` is a ``*.txt`` file at the folder's root whose stem ends
with ``s``: the rule of iSSAM's ``HDataset``
(SamsungLabs/image_harmonization, ``iharm/data/hdataset.py``), which needs
exactly one. When the root has no list for a split, every immediate
sub-folder that has a ``composite_images/`` folder and its own list of the
split is a subset (the four folders of iHarmony4 as distributed: HAdobe5k,
HCOCO, HFlickr, Hday2night), and the split is all of them together, each line
prefixed by its subset's folder. A root list wins over subset lists (the
DoveNet/IIH readers take ``IHD_train.txt`` alone).

Several lists for one split
---------------------------

A folder can carry both spellings of the same list (``ccHarmonytrain.txt``
and ``ccHarmony_train.txt``, e.g. after an export). The rule:

-   lists that name the same composites (order ignored) are one list: the
    first by file name is read, the others are recorded in
    :attr:`SplitList.duplicates` and not read again;
-   lists that name different composites conflict: a problem of kind
    ``"conflict"`` names them, and a strict reader refuses the folder ("keep
    exactly one"), because no rule can tell which one the user meant.

Reading a line
--------------

Whitespace around a line is dropped, backslashes become ``/``; empty lines
and lines starting with ``#`` are skipped. A line without ``/`` is a bare
composite name and gets ``composite_images/``. Every line's path must stay
inside the folder once resolved (``..``, absolute paths and symbolic links out
of it are refused: :func:`ccharmony.io.paths.inside`, ``STYLE.md`` rule 17),
and a composite listed twice in one split is a problem (it would be scored
twice). The reader judges paths, not names: whether a name follows
``<id>_<fg>_<k>.jpg`` is checked by its callers.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ccharmony._types import PathType
from ccharmony.errors import CCHarmonyError, DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "SPLITS",
    "COMPOSITE_FOLDER",
    "PROBLEM_KINDS",
    "ListEntry",
    "ListProblem",
    "SplitList",
    "split_list_files",
    "subset_folders",
    "read_split_list",
]

SPLITS: tuple[str, ...] = ("train", "test")
"""Split names."""

COMPOSITE_FOLDER = "composite_images"
"""Folder of the composites, in the dataset root or in each subset folder."""

PROBLEM_KINDS: dict[str, str] = {
    "missing": "no list of the split (in the folder, or in any subset folder)",
    "conflict": "several lists of the split name different composites",
    "unreadable": "a list file cannot be read as UTF-8 text (or is not a regular file)",
    "outside": "a line's path leads outside the dataset folder (.., absolute path, or a link out)",
    "duplicate": "a composite listed twice in the split",
    "empty": "the split names no composite",
}
"""Kinds of :class:`ListProblem` (the key) and what each means."""


@dataclass(frozen=True)
class ListEntry:
    """
    Name one composite of a split.

    Parameters
    ----------
    path
        Composite path relative to the dataset folder, ``/``-separated and
        normalised: ``composite_images/a_b_1.jpg`` or
        ``HCOCO/composite_images/c1_1_1.jpg``.
    subset
        The folder holding this composite's ``composite_images/``, relative to
        the dataset folder: ``""`` for a single dataset, ``"HCOCO"`` for an
        iHarmony4 subset.
    list_file
        The list file the line came from, relative to the dataset folder.
    line
        1-based line number in ``list_file``.
    """

    path: str
    subset: str
    list_file: str
    line: int

    @property
    def name(self) -> str:
        """Return the composite's file name (``a_b_1.jpg``)."""
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class ListProblem:
    """
    Describe one problem found while reading a split.

    Parameters
    ----------
    kind
        A key of :data:`PROBLEM_KINDS`.
    where
        The list file (``"ccHarmonytrain.txt"``) or a ``file:line`` place,
        relative to the dataset folder; ``""`` (the folder itself) when no
        list exists.
    message
        One line: what is wrong and the fix.
    """

    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(frozen=True)
class SplitList:
    """
    Hold the composites of one split and how they were found.

    Parameters
    ----------
    root
        The dataset folder.
    split
        ``"train"`` or ``"test"``.
    entries
        The composites in list order (lines that lead outside the folder and
        repeated composites are left out, and reported in ``problems``).
    files
        The list files read, relative to ``root``.
    duplicates
        Lists that name the same composites as one in ``files`` and were not
        read again (see the module docstring).
    problems
        Everything that is wrong, in the order found.
    """

    root: Path
    split: str
    entries: tuple[ListEntry, ...] = ()
    files: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    problems: tuple[ListProblem, ...] = field(default_factory=tuple)

    @property
    def paths(self) -> list[str]:
        """Return the composite paths, relative to :attr:`root`, in list order."""
        return [entry.path for entry in self.entries]

    @property
    def subsets(self) -> list[str]:
        """Return the subsets present, sorted (``[""]`` for a single dataset)."""
        return sorted({entry.subset for entry in self.entries})

    def checked(self, *, error: type[CCHarmonyError] = DatasetError) -> SplitList:
        """
        Return this split list, raising when it has a problem.

        Raises
        ------
        CCHarmonyError
            Of class ``error``: one line, the first problem, with the count of
            the others.
        """
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            suffix = f" (and {more} more problem{'s' if more > 1 else ''} in the {self.split} lists)" if more else ""
            place = self.root / first.where if first.where else self.root
            raise error(f"{place}: {first.message}{suffix}")
        return self


def split_list_files(folder: PathType, split: str) -> list[Path]:
    """
    Return the list files of a split at a folder's root, sorted by name.

    A list of split ``s`` is a ``*.txt`` entry (not a folder) whose stem
    ends with ``s`` (iSSAM's rule; see the module docstring); one that is
    not a regular file (a FIFO, a device) is returned too, so that reading
    it reports it instead of skipping it.

    Raises
    ------
    DatasetError
        For a split other than ``"train"`` and ``"test"``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("IHD_train.txt", "ccHarmonytrain.txt", "IHD_test.txt", "notes.txt"):
    ...     _ = (folder / name).write_text("")
    >>> [p.name for p in split_list_files(folder, "train")]
    ['IHD_train.txt', 'ccHarmonytrain.txt']
    """
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(folder)
    return sorted((p for p in root.glob("*.txt") if p.stem.endswith(split) and not p.is_dir()), key=lambda p: p.name)


def subset_folders(folder: PathType, split: str) -> list[Path]:
    """
    Return the sub-folders of ``folder`` that are subsets with a list of ``split``.

    A subset folder has a ``composite_images/`` folder and at least one list
    of the split (:func:`split_list_files`); sorted by name.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for subset in ("HCOCO", "HFlickr"):
    ...     (root / subset / "composite_images").mkdir(parents=True)
    ...     _ = (root / subset / f"{subset}_train.txt").write_text("")
    >>> [p.name for p in subset_folders(root, "train")]
    ['HCOCO', 'HFlickr']
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(
        (child for child in root.iterdir()
         if child.is_dir() and not child.name.startswith(".") and (child / COMPOSITE_FOLDER).is_dir()
         and split_list_files(child, split)),
        key=lambda p: p.name,
    )


def _subset_of(path: str) -> str:
    """The folder that holds the composite's ``composite_images/`` (``""`` at the root)."""
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == COMPOSITE_FOLDER:
        return "/".join(parts[:-2])
    return posixpath.dirname(path)


def _read_lines(root: Path, list_path: Path, prefix: str,
                problems: list[ListProblem]) -> list[tuple[str, int, str, str]] | None:
    """Return ``(normalised path, line number, line, joined path)`` per line; None when unreadable."""
    from ccharmony.io.files import read_regular_text

    where = list_path.relative_to(root).as_posix()
    try:
        text = read_regular_text(list_path, what="a split list", error=DatasetError)
    except CCHarmonyError as error:
        # The reader's message starts with the path; keep only the reason.
        message = str(error)
        reason = message.split(": ", 1)[1] if message.startswith(str(list_path)) and ": " in message else message
        problems.append(ListProblem("unreadable", where, f"cannot read the split list ({reason})"))
        return None
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().replace("\\", "/")
        if not line or line.startswith("#"):
            continue
        relative = line if "/" in line else f"{COMPOSITE_FOLDER}/{line}"
        joined = f"{prefix}/{relative}" if prefix else relative
        lines.append((posixpath.normpath(joined), number, line, joined))
    return lines


def _entries(root: Path, list_path: Path, prefix: str, problems: list[ListProblem]) -> list[ListEntry] | None:
    from ccharmony.io.paths import inside

    lines = _read_lines(root, list_path, prefix, problems)
    if lines is None:
        return None
    where = list_path.relative_to(root).as_posix()
    entries = []
    for path, number, line, joined in lines:
        if posixpath.isabs(line) or path == ".." or path.startswith("../") or inside(root, joined) is None:
            problems.append(ListProblem(
                "outside", f"{where}:{number}",
                f"{line!r} leads outside the dataset folder; list paths must stay inside it",
            ))
            continue
        entries.append(ListEntry(path=path, subset=_subset_of(path), list_file=where, line=number))
    return entries


def _same_composites(a: Iterable[ListEntry], b: Iterable[ListEntry]) -> bool:
    first, second = [entry.path for entry in a], [entry.path for entry in b]
    return len(first) == len(second) and set(first) == set(second)


def _read_lists(root: Path, lists: list[Path], prefix: str, split: str, problems: list[ListProblem],
                files: list[str], duplicates: list[str]) -> list[ListEntry]:
    """Read the lists of one folder (root or subset) under the several-lists rule."""
    chosen: list[ListEntry] | None = None
    chosen_name = ""
    for list_path in lists:
        name = list_path.relative_to(root).as_posix()
        entries = _entries(root, list_path, prefix, problems)
        if entries is None:
            continue
        if chosen is None:
            chosen, chosen_name = entries, name
            files.append(name)
        elif _same_composites(chosen, entries):
            duplicates.append(name)
        else:
            problems.append(ListProblem(
                "conflict", name,
                f"this {split} list and {chosen_name} name different composites "
                f"({len(entries)} and {len(chosen)} lines); keep exactly one {split} list in the folder",
            ))
    return chosen or []


def read_split_list(folder: PathType, split: str) -> SplitList:
    """
    Read the composites of one split of a dataset folder.

    Parameters
    ----------
    folder
        A dataset folder in any layout of the module docstring: ours, an
        iSSAM/iHarmony4 subset folder, or an iHarmony4 root (with
        ``IHD_<split>.txt`` or with subset folders).
    split
        ``"train"`` or ``"test"``.

    Returns
    -------
    SplitList
        Its ``problems`` list everything wrong; call
        :meth:`SplitList.checked` to refuse a split with problems.

    Raises
    ------
    DatasetError
        When ``folder`` is not a folder or ``split`` is unknown (problems
        inside the lists are returned, not raised).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "ccHarmonytrain.txt").write_text("a_1_1.jpg\\na_1_2.jpg\\n")
    >>> _ = (root / "ccHarmony_train.txt").write_text("composite_images/a_1_2.jpg\\ncomposite_images/a_1_1.jpg\\n")
    >>> found = read_split_list(root, "train")
    >>> found.paths, found.files, found.duplicates, found.problems
    (['composite_images/a_1_1.jpg', 'composite_images/a_1_2.jpg'], ('ccHarmony_train.txt',), ('ccHarmonytrain.txt',), ())
    >>> _ = (root / "ccHarmony_test.txt").write_text("../../etc/x_1_1.jpg\\n")
    >>> [str(problem) for problem in read_split_list(root, "test").problems]
    ["ccHarmony_test.txt:1: '../../etc/x_1_1.jpg' leads outside the dataset folder; list paths must stay inside it", 'ccHarmony_test.txt: the test split names no composite']
    """
    root = Path(folder)
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    problems: list[ListProblem] = []
    files: list[str] = []
    duplicates: list[str] = []
    entries: list[ListEntry] = []
    lists = split_list_files(root, split)
    if lists:
        entries = _read_lists(root, lists, "", split, problems, files, duplicates)
    else:
        subsets = subset_folders(root, split)
        for subset in subsets:
            entries += _read_lists(root, split_list_files(subset, split), subset.name, split, problems, files,
                                   duplicates)
        if not subsets:
            problems.append(ListProblem(
                "missing", "",
                f"no {split} split list: expected <Name>{split}.txt or <Name>_{split}.txt in the folder "
                f"(or in each iHarmony4 subset folder)",
            ))
    seen: dict[str, ListEntry] = {}
    unique: list[ListEntry] = []
    for entry in entries:
        if entry.path in seen:
            first = seen[entry.path]
            problems.append(ListProblem(
                "duplicate", f"{entry.list_file}:{entry.line}",
                f"{entry.path} is listed again (first at {first.list_file}:{first.line}); list each composite once",
            ))
            continue
        seen[entry.path] = entry
        unique.append(entry)
    if files and not unique:
        problems.append(ListProblem("empty", files[0], f"the {split} split names no composite"))
    return SplitList(root=root, split=split, entries=tuple(unique), files=tuple(files),
                     duplicates=tuple(duplicates), problems=tuple(problems))
