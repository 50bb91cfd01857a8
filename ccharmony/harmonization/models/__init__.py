"""
Harmonization models
====================

Define the models of the benchmark as configurations and build them by name:

-   :mod:`~ccharmony.harmonization.models.config`: the model-definition schema
    (:class:`ModelConfig`, :class:`BackboneConfig`, :class:`GIFTConfig`,
    :class:`DistillationConfig`).
-   :mod:`~ccharmony.harmonization.models.registry`: :data:`MODELS`,
    :func:`build_model`, :func:`build_teacher`, :class:`ModelOptions`.
-   :mod:`~ccharmony.harmonization.models.issam`: the iSSAM backbone
    (:class:`ISSAMNet`), with GIFT and relation taps.
-   :mod:`~ccharmony.harmonization.models.giftnet`: the GIFT module and the
    legacy U-Net + GIFT; :mod:`~ccharmony.harmonization.models.unet`: the
    legacy U-Net; :mod:`~ccharmony.harmonization.models.relation`: relation maps.
-   :mod:`~ccharmony.harmonization.models.baselines`: composite and the two
    Reinhard statistics transfers.

=======================  =================================================================
name                     model
=======================  =================================================================
``composite``            the composite itself (identity)
``reinhard-lab``         statistics transfer in CIELAB (alias ``reinhard``, its old name)
``reinhard-lalphabeta``  Reinhard et al. 2001 statistics transfer in their l-alpha-beta
``issam``                iSSAM: U-Net + SSAM + image fusion (the backbone row)
``issam-gift``           iSSAM + GIFT on the skip features
``issam-rd``             iSSAM + relation distillation of the skip features
``giftnet``              iSSAM + GIFT on the skips + distillation of the transformed skips
``unet`` ...             legacy U-Net rows: ``unet``, ``unet-gift`` (GIFT on decoder
                         outputs), ``unet-rd`` (raw encoder stages 3-4), ``unet-gift-rd``
                         (the former ``giftnet``)
=======================  =================================================================

GiftNet :cite:`Niu2023` is re-implemented from the paper's description; the
official code and weights were never released. The abstract says relation
distillation gives "intermediate supervision for the transformed encoder
features" and the global feature guides the transformation of foreground
features "in the decoder blocks"; our reading, which reconciles both (and the
ablation remark that GIFT inside the encoder brings no gain): GIFT transforms
the encoder features that the skip connections carry into each decoder block,
guided by a vector pooled from the bottleneck, inside the resized foreground
mask; distillation supervises those transformed skip features with the
relation a reconstruction teacher computes on the real image at the same
level.

Points the paper leaves open, our choice, and the source followed
(SamsungLabs/image_harmonization = iSSAM, commit 4d16b12;
bcmi/DucoNet-Image-Harmonization = DucoNet, the lab's later model in the same
code base):

==========================  ======================================  ================================================
point                       our choice                              source
==========================  ======================================  ================================================
backbone                    iSSAM ``improved_ssam256``: depth 4,    iSSAM ``iharm/mconfigs/base.py``,
                            32 channels (32-256), ReLU              ``models/fixed256/improved_ssam.py``;
                                                                    DucoNet ``models/DucoNet_256.py`` (same params)
BatchNorm                   encoder blocks 2-3 (from the third),    iSSAM ``iharm/model/modeling/unet.py``
                            every decoder block; none in up-convs   (``batchnorm_from=2``)
attention                   SSAM on the last decoder block,         iSSAM ``iharm/model/base/ssam_model.py``,
                            ``mid_k`` 0.5                           ``iharm/model/ops.py`` (``attend_from=2``)
output                      image fusion, ``sigmoid(3 conv1x1)``    iSSAM ``unet.py`` ``UNetDecoder``
input                       ImageNet-normalised RGB + mask [0, 1]   iSSAM ``improved_ssam.py`` ``input_normalization``
initialisation              XavierGluon, gaussian, magnitude 1      iSSAM ``iharm/model/initializer.py``,
                            (SSAM's blur buffer re-drawn, as in     ``improved_ssam.py``
                            their code; ``ssam_blur="gaussian"``
                            keeps the Gaussian)
GIFT placement              skip features of every decoder block    our reading of :cite:`Niu2023` (issue 13)
                            (``decoder-output``, ``encoder``
                            configurable)
GIFT guide                  spatial mean of the bottleneck          DucoNet ``iharm/model/base/Control_encoder.py``
                                                                    (``map_net`` average-pools the deepest map of
                                                                    its own L, a, b encoders)
GIFT transform              MLP (256, LeakyReLU 0.2) -> scales      DucoNet ``iharm/model/modeling/styleganv2.py``
                            ``1 + s`` of a demodulated 3x3          (``StyleBlock``: modulated, demodulated 3x3);
                            modulated conv + bias, identity start,  ours: identity start, no activation, one conv
                            no activation
mask in GIFT                bilinear, ``align_corners=True``;       DucoNet ``iharm/model/modeling/unet_v1.py``
                            ``m T(x) + (1 - m) x``                  (``Control_Module``)
relation                    cosine of mask-averaged foreground      issue 13; ``cosine-all`` (every pixel) option
                            feature with each background feature
distillation levels         every GIFT level (0-2)                  ours
distance, lambda            L1, 1e-3 (colour loss on [0, 1] RGB)    ours (``l2`` option); iSSAM's loss is on
                                                                    ImageNet-normalised RGB, 19.6x larger
teacher                     same backbone, no fusion, trained on    :cite:`Niu2023` (teacher on real images)
                            real -> real first, then frozen
colour loss                 foreground-normalised MSE,              DucoNet ``models/DucoNet_256.py``
                            ``A_min`` 100 px at 256                 (``min_area=100``); iSSAM uses 1000
                                                                    (``iharm/model/losses.py``)
schedule (``paper``)        Adam 1e-3, 120 epochs, x0.1 after 105   iSSAM ``improved_ssam.py``; DucoNet
                            and 115, batch 16, 256x256 crops        ``models/DucoNet_256.py`` (lr x sqrt(batch/64))
==========================  ======================================  ================================================

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Sofiiuk2021` : Sofiiuk, K., Popenova, P., & Konushin, A. (2021).
    Foreground-aware Semantic Representations for Image Harmonization. WACV
    2021, 1620-1629. doi:10.1109/WACV48630.2021.00166
-   :cite:`Reinhard2001` : Reinhard, E., Ashikhmin, M., Gooch, B., & Shirley, P.
    (2001). Color Transfer between Images. IEEE Computer Graphics and
    Applications, 21(5), 34-41. doi:10.1109/38.946629
"""

from __future__ import annotations

from ccharmony.harmonization.models.baselines import (
    REINHARD_SPACES,
    CompositeModel,
    ReinhardModel,
    transfer_statistics_CIELab,
    transfer_statistics_Reinhard2001,
)
from ccharmony.harmonization.models.config import (
    BackboneConfig,
    DistillationConfig,
    GIFTConfig,
    ModelConfig,
    RelationTap,
    backbone_key,
    read_model_configs,
    relation_taps,
    teacher_config,
)
from ccharmony.harmonization.models.giftnet import GIFT, GIFTOptions, ModulatedConv2d, UNetGIFT
from ccharmony.harmonization.models.issam import GiftNet, ISSAMNet, init_xavier_gluon
from ccharmony.harmonization.models.registry import (
    ABLATION_MODELS,
    ALIASES,
    DEFAULT_MODELS,
    MODEL_CONFIGS,
    MODELS,
    ModelOptions,
    ModelSpec,
    TeacherSet,
    build_model,
    build_network,
    build_teacher,
    canonical_name,
    model_config,
    teacher_key,
    teacher_taps,
    validate_model_names,
)
from ccharmony.harmonization.models.relation import relation_map, resize_mask
from ccharmony.harmonization.models.unet import UNet, UNetOptions

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "ModelSpec",
    "ModelOptions",
    "ModelConfig",
    "BackboneConfig",
    "GIFTConfig",
    "DistillationConfig",
    "RelationTap",
    "MODEL_CONFIGS",
    "MODELS",
    "ALIASES",
    "DEFAULT_MODELS",
    "ABLATION_MODELS",
    "canonical_name",
    "validate_model_names",
    "model_config",
    "read_model_configs",
    "relation_taps",
    "teacher_config",
    "teacher_taps",
    "teacher_key",
    "backbone_key",
    "build_model",
    "build_network",
    "build_teacher",
    "TeacherSet",
    "ISSAMNet",
    "init_xavier_gluon",
    "UNet",
    "UNetOptions",
    "UNetGIFT",
    "GiftNet",
    "GIFT",
    "GIFTOptions",
    "ModulatedConv2d",
    "CompositeModel",
    "ReinhardModel",
    "REINHARD_SPACES",
    "relation_map",
    "resize_mask",
    "transfer_statistics_Reinhard2001",
    "transfer_statistics_CIELab",
]
