"""
Benchmark presets
=================

Define the named settings of ``ccharmony benchmark giftnet``:

-   :class:`Preset`: every training and evaluation setting of a benchmark.
-   :data:`PRESETS`: ``"cpu-smoke"``, ``"paper"`` and ``"ccharmony-finetune"``.
-   :func:`get_preset`: look a preset up, optionally overriding fields.

``paper`` takes its settings from the lab's public code, not from the paper
:cite:`Niu2023`, which does not fix them: 256x256 crops, widths 32-256 (depth
4, 32 channels), Adam at 1e-3, 120 epochs with a x0.1 step decay after 105
and 115, batch 16 are iSSAM's :cite:`Sofiiuk2021`
(SamsungLabs/image_harmonization ``models/fixed256/improved_ssam.py``), and
bcmi/DucoNet-Image-Harmonization ``models/DucoNet_256.py`` has the same
schedule (its rate scaled by sqrt(batch / 64)). ``cpu-smoke`` is our small
setting that runs the comparison on the embedded default dataset within
minutes on two CPU cores: it trains at 96x96 with half the channels (16-128),
ten epochs (teacher: three) and the illuminant-jitter augmentation, and
evaluates at 256x256 by running the model at 96 and up-sampling its colour
change (:func:`~ccharmony.harmonization.predict.predict_batch`). The network
is fully convolutional and harmonization is mostly a global colour change: on
the embedded default, up-sampling the *true* change from 96 to 256 costs an
fMSE of 45 (128: 32), against 1593 for the composite.

The ccHarmony protocol (``ccharmony-finetune``)
-----------------------------------------------
The ccHarmony table's rows are models "pretrained on iHarmony4" that the
authors "finetune ... on the training set of ccHarmony and evaluate on the
test set of ccHarmony" (bcmi/Image-Harmonization-Dataset-ccHarmony,
``README.md``, "Experimental Results"); the fine-tuning schedule itself is not
published. So the protocol has two stages:

1.  pre-train with ``--preset paper`` on iHarmony4 (the four subsets
    together: ``--data iHarmony4`` on its root);
2.  fine-tune with ``--preset ccharmony-finetune --init-from RUN`` on
    ccHarmony (``--data ccHarmony``), where ``RUN`` is the run folder (or one
    checkpoint) of stage 1. The preset refuses to run without
    ``--init-from``.

==================  ==============================  ===============================================
setting             ``ccharmony-finetune``          source
==================  ==============================  ===============================================
crop                256x256 random resized crop,    iSSAM ``models/fixed256/improved_ssam.py``,
                    scale 0.5-1, horizontal flip    DucoNet ``models/DucoNet_256.py``
batch               16                              iSSAM (``cfg.batch_size`` default 16)
width               32 (the pre-trained model's)    must equal stage 1 (``paper``)
optimiser           Adam, betas (0.9, 0.999)        iSSAM / DucoNet ``optimizer_params``
learning rate       1e-4                            our choice: a tenth of the pre-training rate
                                                    (1e-3, iSSAM), to adapt the weights rather
                                                    than re-learn them; not published
epochs              40 (teacher: 10)                our choice (3080 pairs: 7700 steps of 16);
                                                    not published
decay               x0.1 after 35/40 and 38/40      the fractions of iSSAM's/DucoNet's 105 and
                    of the epochs                   115 of 120 (rounded); our choice to reuse them
A_min, lambda       from each model's definition    :mod:`ccharmony.harmonization.models`
evaluation          256x256, the ``--protocol``     ``bcmi`` by default
==================  ==============================  ===============================================

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

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ccharmony.errors import ConfigError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["Preset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """
    Hold every setting of a benchmark run.

    Parameters
    ----------
    name
        Preset name.
    train_size
        Side of the square training crops in pixels.
    eval_size
        Side of the evaluation images (256 in the field).
    inference_size
        Side the model runs at during evaluation (``None``: ``eval_size``);
        below ``eval_size`` the colour change is up-sampled.
    width
        Channels of the first U-Net stage (stages double it up to 8x).
    epochs
        Training epochs of each learned model.
    teacher_epochs
        Epochs of the reconstruction teacher.
    batch_size
        Training batch size.
    learning_rate
        Adam's initial learning rate.
    lr_milestones
        Fractions of the epochs after which the rate is multiplied by ``lr_gamma``.
    lr_gamma
        Step-decay factor.
    relation_weight
        Override of lambda, the weight of the relation-distillation term
        (``None``: each model definition's own, 1e-3 with the loss on [0, 1]
        RGB; on the embedded default 1e-2 made the term as large as the colour
        loss and raised GiftNet's test fMSE from 717 to 910, 1e-4 gave 981,
        one seed each).
    relation_stages
        Encoder stages (1-based) distilled by the legacy U-Net rows (our
        default: 3, 4); the iSSAM rows take theirs from their definition.
    min_area
        Override of ``A_min`` of the foreground-normalised MSE, pixels at
        ``train_size`` (``None``: each model definition's own, 100 px at 256
        scaled with the area: DucoNet's value,
        bcmi/DucoNet-Image-Harmonization ``models/DucoNet_256.py``
        ``MaskWeightedMSE(min_area=100)``; iSSAM's ``MaskWeightedMSE``
        default is 1000).
    illuminant_jitter
        Half-range ``j`` of the random log-gains applied to both composite and
        real image of a training sample
        (:class:`~ccharmony.harmonization.data.HarmonizationDataset`); 0 for
        the field's augmentation only.
    num_threads
        PyTorch CPU threads (``None``: PyTorch's default).
    eval_batch_size
        Images per evaluation forward pass.
    num_workers
        Loader worker processes (0: load in the training process). Two CPU
        cores are better spent on the model (``cpu-smoke``); a GPU run needs
        workers to keep it fed (iSSAM's ``train.py`` defaults to 4).
    cache_min_side_factor
        The on-disk training cache keeps each sample's shorter side at least
        this times ``train_size`` (:mod:`ccharmony.harmonization.cache`).
    pretrained_with
        A preset that fine-tunes names the preset its ``--init-from`` weights
        come from (``"paper"``); it is refused without ``--init-from``.
    """

    name: str
    train_size: int = 256
    eval_size: int = 256
    inference_size: int | None = None
    width: int = 32
    epochs: int = 120
    teacher_epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 1e-3
    lr_milestones: tuple[float, ...] = (105 / 120, 115 / 120)
    lr_gamma: float = 0.1
    relation_weight: float | None = None
    relation_stages: tuple[int, ...] = (3, 4)
    min_area: float | None = None
    illuminant_jitter: float = 0.0
    num_threads: int | None = None
    eval_batch_size: int = 16
    num_workers: int = 4
    cache_min_side_factor: float = 2.0
    pretrained_with: str | None = None

    def __post_init__(self) -> None:
        if self.train_size < 16 or self.eval_size < 16:
            raise ConfigError(
                f"preset {self.name!r}: train_size and eval_size must be >= 16, got "
                f"{self.train_size}, {self.eval_size}"
            )
        if self.epochs < 0 or self.teacher_epochs < 0 or self.batch_size < 1:
            raise ConfigError(
                f"preset {self.name!r}: need epochs >= 0, teacher_epochs >= 0, batch_size >= 1"
            )
        if isinstance(self.num_workers, bool) or not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ConfigError(f"preset {self.name!r}: num_workers must be a whole number >= 0, got "
                              f"{self.num_workers!r}")
        if not math.isfinite(self.cache_min_side_factor) or self.cache_min_side_factor < 1:
            raise ConfigError(f"preset {self.name!r}: cache_min_side_factor must be >= 1, got "
                              f"{self.cache_min_side_factor!r}")
        object.__setattr__(self, "lr_milestones", tuple(float(m) for m in self.lr_milestones))
        object.__setattr__(self, "relation_stages", tuple(int(s) for s in self.relation_stages))

    def to_dict(self) -> dict:
        """Return the preset as a JSON-ready dict."""
        data = asdict(self)
        data["lr_milestones"] = list(self.lr_milestones)
        data["relation_stages"] = list(self.relation_stages)
        return data


PRESETS: dict[str, Preset] = {
    "cpu-smoke": Preset(
        name="cpu-smoke",
        train_size=96,
        inference_size=96,
        width=16,
        epochs=10,
        teacher_epochs=3,
        batch_size=8,
        lr_milestones=(0.8,),
        illuminant_jitter=0.3,
        num_threads=2,
        eval_batch_size=8,
        num_workers=0,
    ),
    "paper": Preset(name="paper"),
    "ccharmony-finetune": Preset(
        name="ccharmony-finetune",
        epochs=40,
        teacher_epochs=10,
        learning_rate=1e-4,
        lr_milestones=(35 / 40, 38 / 40),
        pretrained_with="paper",
    ),
}
"""Named presets: ``cpu-smoke`` (two CPU cores, minutes), ``paper`` (a GPU, hours) and
``ccharmony-finetune`` (the ccHarmony protocol's second stage, from ``paper`` weights)."""


def get_preset(name: str, **overrides: object) -> Preset:
    """
    Return a preset with some fields overridden.

    Parameters
    ----------
    name
        A key of :data:`PRESETS`.
    **overrides
        Field values; ``None`` values are ignored (unset CLI flags).

    Returns
    -------
    Preset

    Raises
    ------
    ConfigError
        When the name or a field is unknown.

    Examples
    --------
    >>> get_preset("cpu-smoke", epochs=3).epochs
    3
    >>> get_preset("ccharmony-finetune").learning_rate
    0.0001
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    known = {f.name for f in fields(Preset)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown preset field {unknown[0]!r}; accepted: {', '.join(sorted(known))}")
    values: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    return replace(PRESETS[name], **values)
