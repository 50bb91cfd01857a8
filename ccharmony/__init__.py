"""
ccharmony
=========

Build colour-checker-based image-harmonization datasets from raw photographs
(after ccHarmony, :cite:`Niu2023`) and benchmark harmonization models on them.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
"""

from __future__ import annotations

__author__ = "ccharmony developers"
__license__ = "MIT"
__version__ = "0.1.0"

__all__ = ["__version__"]
