"""
Harmonization
=============

Train and benchmark image-harmonization models on dataset folders in the
iHarmony4 layout, after the iSSAM code structure :cite:`Sofiiuk2021`:

-   :mod:`~ccharmony.harmonization.data`: dataset folders as torch datasets,
    and the loader (worker processes, pinned memory).
-   :mod:`~ccharmony.harmonization.cache`: the on-disk training cache
    (:class:`TrainingCache`: pre-resized, memory-mapped).
-   :mod:`~ccharmony.harmonization.models`: GiftNet :cite:`Niu2023`, the U-Net
    and the baselines, registered by name (:func:`build_model`).
-   :mod:`~ccharmony.harmonization.losses`: training losses.
-   :mod:`~ccharmony.harmonization.metrics`: evaluation metrics (256x256, 0..255).
-   :mod:`~ccharmony.harmonization.engine`: the training loop.
-   :mod:`~ccharmony.harmonization.checkpoint`: validated checkpoint reading
    (:func:`read_checkpoint`) and initialisation by parameter name
    (``--init-from``).
-   :mod:`~ccharmony.harmonization.predict`: inference and scoring.
-   :mod:`~ccharmony.harmonization.scoring`: :func:`score_predictions`, the
    scores of any method's outputs (``ccharmony benchmark score``).
-   :mod:`~ccharmony.harmonization.report`: report files.
-   :mod:`~ccharmony.harmonization.benchmark`: :func:`run_benchmark`.
-   :mod:`~ccharmony.harmonization.presets`: ``cpu-smoke``, ``paper`` and
    ``ccharmony-finetune``.

GiftNet is a re-implementation from the paper's description; the official
code and weights were never released.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
"""

from __future__ import annotations

from ccharmony.harmonization.benchmark import BenchmarkOptions, BenchmarkResult, run_benchmark
from ccharmony.harmonization.cache import TrainingCache
from ccharmony.harmonization.checkpoint import Checkpoint, InitReport, read_checkpoint
from ccharmony.harmonization.models import MODELS, ModelOptions, build_model, build_teacher
from ccharmony.harmonization.predict import evaluate, harmonize, load_model
from ccharmony.harmonization.presets import PRESETS, Preset, get_preset
from ccharmony.harmonization.scoring import ScoreResult, score_predictions

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "MODELS",
    "ModelOptions",
    "build_model",
    "build_teacher",
    "PRESETS",
    "Preset",
    "get_preset",
    "BenchmarkOptions",
    "BenchmarkResult",
    "run_benchmark",
    "TrainingCache",
    "Checkpoint",
    "InitReport",
    "read_checkpoint",
    "ScoreResult",
    "score_predictions",
    "evaluate",
    "harmonize",
    "load_model",
]
