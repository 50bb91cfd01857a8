"""
Suggested splits
================

Define the train / test split ``ccharmony annotate`` suggests:

-   :func:`suggest_splits`: a seeded split by source image that balances
    cameras and respects the assignments already made.

A photo is one unit: all its foregrounds go to the split of the photo, so no
scene is in both splits (the rule of :cite:`Niu2023`'s lists, which
``ccharmony verify`` checks as leakage). Within each camera the photos are
ranked by ``sha256(f"{seed}\\x1f{name}")``; the camera's test quota is
``round(test_fraction * n)`` photos; photos whose split is already fixed (by
the user or by the lists on disk) count towards the quota, and the rest of it
goes to the first-ranked free photos. The rank of a photo does not depend on
the other photos, so adding photos to the folder moves as few suggestions as
the quotas allow.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping

from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["SPLITS", "suggest_splits", "split_rank"]

SPLITS = ("train", "test")
"""The two split names, as the list files spell them."""


def split_rank(name: str, seed: int) -> str:
    """
    Return the seeded rank key of a photo (hex digest; smaller goes to test first).

    Examples
    --------
    >>> split_rank("IMG_0001", 0)[:12]
    'd5b403ffc690'
    """
    return hashlib.sha256(f"{int(seed)}\x1f{name}".encode()).hexdigest()


def suggest_splits(
    cameras: Mapping[str, str],
    fixed: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.3,
) -> dict[str, str]:
    """
    Suggest a train / test split per photo, balanced across cameras.

    Parameters
    ----------
    cameras
        Photo name -> camera name (any string; unknown cameras share one group).
    fixed
        Photo name -> ``"train"`` or ``"test"`` for photos already assigned;
        returned unchanged.
    seed
        Seed of the ranking.
    test_fraction
        Share of each camera's photos that go to test, in (0, 1).

    Returns
    -------
    dict
        Photo name -> ``"train"`` or ``"test"`` for every photo of ``cameras``.

    Raises
    ------
    ConfigError
        For a ``test_fraction`` outside (0, 1) or a fixed split that is not
        ``train`` or ``test``.

    Examples
    --------
    >>> cameras = {f"a{i}": "A" for i in range(10)} | {f"b{i}": "B" for i in range(4)}
    >>> splits = suggest_splits(cameras, seed=1)
    >>> sorted((c, sum(splits[n] == "test" for n in cameras if cameras[n] == c)) for c in "AB")
    [('A', 3), ('B', 1)]
    >>> suggest_splits(cameras, {"a0": "test", "a1": "test", "a2": "test"}, seed=1)["a3"]
    'train'
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    fixed = dict(fixed or {})
    for name, split in fixed.items():
        if split not in SPLITS:
            raise ConfigError(f"split of {name!r} must be 'train' or 'test', got {split!r}")
    groups: dict[str, list[str]] = defaultdict(list)
    for name, camera in cameras.items():
        groups[camera].append(name)
    result: dict[str, str] = {}
    for names in groups.values():
        quota = int(round(float(test_fraction) * len(names)))
        taken = sum(1 for name in names if fixed.get(name) == "test")
        free = sorted((name for name in names if name not in fixed), key=lambda n: (split_rank(n, seed), n))
        need = max(0, quota - taken)
        for rank, name in enumerate(free):
            result[name] = "test" if rank < need else "train"
        for name in names:
            if name in fixed:
                result[name] = fixed[name]
    return result
