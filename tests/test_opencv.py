"""OpenCV is installed as exactly one distribution, and the cv2 it provides works.

Several PyPI distributions (opencv-python, -headless, -contrib-python, -contrib-python-headless)
write the same ``cv2/`` folder; installing two silently mixes their files. ccharmony depends on
opencv-contrib-python-headless only (``cv2.mcc`` for chart detection, no libGL needed).
"""

from __future__ import annotations

import importlib.metadata as metadata

import numpy as np

OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)


def _installed() -> list[str]:
    found = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def test_exactly_one_opencv_distribution() -> None:
    assert _installed() == ["opencv-contrib-python-headless"]


def test_cv2_version_matches_the_distribution() -> None:
    import cv2

    distribution = metadata.version("opencv-contrib-python-headless")
    assert distribution.startswith(cv2.__version__ + ".")


def test_cv2_works_and_has_the_contrib_modules() -> None:
    import cv2

    image = np.zeros((32, 48, 3), np.uint8)
    cv2.rectangle(image, (8, 4), (39, 27), (10, 200, 30), thickness=-1)
    ok, data = cv2.imencode(".png", image)
    assert ok
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(decoded, image)
    grey = cv2.cvtColor(decoded, cv2.COLOR_BGR2GRAY)
    assert int(grey[10, 10]) == round(0.114 * 10 + 0.587 * 200 + 0.299 * 30)
    # The contrib modules the project uses: ColorChecker detection and image hashes.
    assert hasattr(cv2.mcc, "CCheckerDetector")
    assert hasattr(cv2, "img_hash")
