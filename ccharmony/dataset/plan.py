"""
Build plan
==========

The seeded, central decisions of a build, taken once stage A has prepared
every image (cheap and deterministic, so they never depend on the executor
or on the order tasks finish in):

-   :func:`plan_splits`: the split of each source image.
-   :func:`check_splits`: refuse a plan with an empty train or test split.
-   :func:`check_listed_splits`: the same, from the annotation lists alone,
    before any work is done.
-   :func:`plan_targets`: the K target images of every foreground.
-   :func:`shortfalls`: every foreground that gets fewer than K targets, with
    the reason.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ccharmony.dataset.annotations import AnnotationSet
from ccharmony.dataset.config import Pipeline
from ccharmony.dataset.layout import SPLITS
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["stable_seed", "plan_splits", "check_splits", "check_listed_splits", "plan_targets", "shortfalls"]


def stable_seed(seed: int, *parts: str) -> int:
    """
    Return a 64-bit seed derived from ``seed`` and some names (order-independent of anything else).

    Examples
    --------
    >>> stable_seed(1, "split") == stable_seed(1, "split"), stable_seed(1, "a") == stable_seed(2, "a")
    (True, False)
    """
    digest = hashlib.sha256("\x1f".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def plan_splits(images: list[str], annotations: AnnotationSet, *, seed: int, test_fraction: float) -> dict[str, str]:
    """
    Return the split of each source image.

    From the annotation lists when they name the image; otherwise a seeded split
    by source image, so no image is in both splits.
    """
    splits: dict[str, str] = {}
    unlisted = []
    for image in images:
        listed = annotations.image_split(image)
        if listed is not None:
            splits[image] = listed
        else:
            unlisted.append(image)
    if unlisted:
        rng = np.random.default_rng(stable_seed(seed, "split"))
        order = rng.permutation(len(unlisted))
        n_test = max(1, int(round(test_fraction * len(unlisted)))) if len(unlisted) > 1 else 0
        for rank, index in enumerate(order):
            splits[unlisted[index]] = "test" if rank < n_test else "train"
    return splits


def _empty_split_fix(annotations: AnnotationSet, empty: str) -> str:
    listed = annotations.list_files.get(empty)
    name = listed if listed is not None else f"{annotations.root}/{empty}_list.txt"
    return f"list at least one image's foregrounds in {name}"


def check_listed_splits(annotations: AnnotationSet, images: Iterable[str], *, where: object) -> None:
    """
    Refuse, before any work, annotation lists that leave a split empty.

    Only when every image (with a photo) is named by the lists: an image the
    lists do not name is split by the seed and may fill the empty split.

    Raises
    ------
    DatasetError
        One line naming the split, the list files and the fix.
    """
    images = list(images)
    listed = [annotations.image_split(image) for image in images]
    if not images or any(split is None for split in listed):
        return
    for split in SPLITS:
        if split not in listed:
            other = next(s for s in SPLITS if s != split)
            raise DatasetError(
                f"{where}: the {split} split would be empty: all {len(images)} image(s) are listed in "
                f"{annotations.list_files.get(other, other)}; {_empty_split_fix(annotations, split)}"
            )


def check_splits(
    splits: Mapping[str, str],
    used: Iterable[str],
    annotations: AnnotationSet,
    *,
    where: object,
    left_out: Sequence[Mapping[str, str]] = (),
) -> None:
    """
    Refuse a build whose train or test split would hold no composite.

    Parameters
    ----------
    splits
        Image -> split (:func:`plan_splits`).
    used
        The images that get at least one composite.
    annotations
        For the list files named in the message.
    where
        The output folder, for the message.
    left_out
        The images stage A left out (``{"image", "reason"}``): they may be why,
        so the message gives their number and the first one's reason.

    Raises
    ------
    DatasetError
        A split with no image; benchmarks and the iSSAM loaders need both.
    """
    used = sorted(used)
    present = {splits[image] for image in used}
    for split in SPLITS:
        if split not in present:
            skipped = (f" ({len(left_out)} other image(s) were left out, e.g. {left_out[0]['image']}: "
                       f"{left_out[0]['reason']})" if left_out else "")
            source = "the annotation lists" if annotations.list_files else "the seeded split"
            raise DatasetError(
                f"{where}: the {split} split would be empty: {source} put all {len(used)} usable image(s) in "
                f"{'train' if split == 'test' else 'test'}{skipped}; {_empty_split_fix(annotations, split)}"
            )


def plan_targets(
    prepared: dict[str, dict[str, Any]],
    pipeline: Pipeline,
    *,
    seed: int,
) -> dict[tuple[str, str], list[str]]:
    """
    Choose the K target images of every foreground.

    Each foreground's choice is seeded by ``(seed, foreground id)``, so it does not
    depend on processing order or on the other foregrounds. A foreground may
    get fewer than K (:func:`shortfalls` says which and why).

    References
    ----------
    :cite:`Niu2023`
    """
    from ccharmony.composite import TargetCandidate, select_targets

    candidates = [
        TargetCandidate(id=name, illuminant=tuple(float(v) for v in record["illuminant_srgb"]), camera=record["camera"])  # type: ignore[arg-type]
        for name, record in sorted(prepared.items())
    ]
    plan: dict[tuple[str, str], list[str]] = {}
    for name, record in sorted(prepared.items()):
        for letter in sorted(record["foregrounds"]):
            plan[(name, letter)] = list(
                select_targets(
                    name,
                    candidates,
                    k=pipeline.k,
                    policy=pipeline.policy,
                    same_camera=pipeline.same_camera,
                    min_angle_deg=pipeline.min_angle_deg,
                    seed=stable_seed(seed, record["id"], letter),
                )
            )
    return plan


def _eligible(name: str, prepared: dict[str, dict[str, Any]], pipeline: Pipeline) -> tuple[int, str]:
    """Return how many targets ``name`` may have, and why that many."""
    from ccharmony.illuminant import angular_error

    source = prepared[name]
    pool = [other for other in sorted(prepared) if other != name]
    reason = [f"{len(pool)} other usable image(s)"]
    if pipeline.same_camera:
        pool = [other for other in pool if prepared[other]["camera"] == source["camera"]]
        reason.append(f"{len(pool)} of them from its camera ({source['camera']})")
    if pipeline.policy == "diverse":
        origin = np.asarray(source["illuminant_srgb"], dtype=np.float64)
        pool = [
            other for other in pool
            if float(angular_error(origin, np.asarray(prepared[other]["illuminant_srgb"], dtype=np.float64)))
            >= pipeline.min_angle_deg
        ]
        if pipeline.min_angle_deg > 0:
            reason.append(f"{len(pool)} at least {pipeline.min_angle_deg:g} deg from its illuminant (min_angle_deg)")
    return len(pool), ", ".join(reason)


def shortfalls(
    plan: Mapping[tuple[str, str], list[str]], prepared: dict[str, dict[str, Any]], pipeline: Pipeline
) -> list[dict[str, Any]]:
    """
    Return every foreground given fewer than ``pipeline.k`` targets, with the reason.

    Returns
    -------
    list of dict
        ``{"foreground": "<id>_<fg>", "image": name, "wanted": k, "got": n,
        "reason": "..."}``, sorted by foreground id.
    """
    found = []
    for (name, letter), targets in sorted(plan.items()):
        if len(targets) >= pipeline.k:
            continue
        eligible, why = _eligible(name, prepared, pipeline)
        found.append({
            "foreground": f"{prepared[name]['id']}_{letter}",
            "image": name,
            "wanted": pipeline.k,
            "got": len(targets),
            "reason": f"only {eligible} eligible target image(s): {why}",
        })
    return found
