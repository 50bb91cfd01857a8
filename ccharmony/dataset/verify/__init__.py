"""
Dataset verification
====================

Verify that a harmonization dataset folder is intact, consistent and free of
split leakage, for folders written by :mod:`ccharmony.dataset.builder` and for
any folder in the iHarmony4 layout (iHarmony4 subsets, the ccHarmony download):

-   :func:`verify_dataset`: run every check and return a :class:`VerifyReport`.
-   :class:`VerifyReport`, :class:`Check`: the result, with ``to_dict`` and
    ``write_json``.
-   :func:`format_report`: the readable terminal summary (file names escaped).
-   :func:`check_report_destination`: refuse an unwritable ``--json`` path early.
-   :data:`CHECKS`: the name and meaning of every check.

Tolerance rule ("within the codec's error, measured, not guessed").
A composite is ``mask·T(real) + (1 − mask)·real``, so outside its mask it
must equal its real image. When both files are lossless (PNG) it must do so
exactly. When a JPEG is involved, the error that JPEG itself makes on *this*
image is measured: the decoded real image is re-encoded with OpenCV at each
JPEG quality involved (the composite's and the real image's, estimated from
their luminance quantisation tables), and ``E`` is the sum over those
qualities of the re-encoding difference, largest and mean, over the compared
region. The residual at a pixel is the largest per-channel difference between
the composite and the nearer of two candidates, the real image and the real
image re-encoded at the composite's quality (which is what a builder that
composites the decoded real image produces). Outside the mask grown by 2 px and
then to whole JPEG coding units (8 px times the composite's luma sampling
factors: 16 x 16 for 4:2:0, 8 x 8 for 4:4:4; re-encoding uses the same
sampling), so blocks straddling the mask edge are left out, the largest residual must be at
most ``1.5 E_largest + 2`` levels and the mean residual at most
``1.5 E_mean + 0.5``. An edit is therefore caught when it changes some pixels
by more than the bound for that image (reported with each problem; the
largest re-encoding error of a NUS-8 rendering at 1300 px was 15-29 levels
at qualities 75-100, giving bounds of about 25-45 levels; smooth images give
a few levels) or shifts a whole region by more than its mean
error. Inside the mask the mean difference must exceed ``1.5 E_mean + 0.5``
(and be non-zero for lossless files). ``--deep`` compares the stored
composite with the one re-created by
:func:`ccharmony.dataset.reapply.reapply_transfer` inside the mask (outside
it the shallow check applies) by the same rule, where ``E`` adds the error of re-encoding the re-created
composite and the real image's own JPEG error carried through the transfer:
the difference made by re-applying the transfer to the real image re-encoded
at its quality on a block grid shifted by 4 px (re-encoding on the same grid
would give a second-generation error, which underestimates a first one). On
the embedded default build the largest residual reached 0.80 of
``E_largest`` and the mean 0.70 of ``E_mean``.

A truncated JPEG decodes silently with OpenCV, so files are checked for their
end marker (JPEG EOI, PNG IEND) before decoding.

Split leakage: a source image with composites in both splits, and pairs of
source images in different splits whose perceptual hashes
(:func:`ccharmony.dataset.phash.phash`) are within
:data:`~ccharmony.dataset.phash.NEAR_DUPLICATE_DISTANCE` bits.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Cong2020` : Cong, W., Zhang, J., Niu, L., Liu, L., Ling, Z., Li, W.,
    & Zhang, L. (2020). DoveNet: Deep Image Harmonization via Domain
    Verification. CVPR 2020, 8394-8403. doi:10.1109/CVPR42600.2020.00842
-   :cite:`ITU-T-T.81` : ITU-T (1992). Recommendation T.81: Information
    technology - Digital compression and coding of continuous-tone still
    images - Requirements and guidelines (JPEG), Annex K.
-   :cite:`Zauner2010` : Zauner, C. (2010). Implementation and Benchmarking of
    Perceptual Image Hash Functions. Master's thesis, Upper Austria University
    of Applied Sciences.
"""

from __future__ import annotations

from ccharmony.dataset.verify._report import (
    CHECKS,
    STATUSES,
    Check,
    VerifyReport,
    check_report_destination,
    format_report,
)
from ccharmony.dataset.verify._run import verify_dataset

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["CHECKS", "STATUSES", "Check", "VerifyReport", "check_report_destination", "format_report",
           "verify_dataset"]
