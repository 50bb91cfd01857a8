"""read_image on the shared real non-RAW files (skipped when ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from ccharmony.errors import ConfigError
from ccharmony.io import IngestOptions, read_image, read_srgb8
from ccharmony.io.mosaic import CFA_PATTERNS

BLLANOS = "lab__bllanos_chromatic-aberration"


def test_bllanos_bayer_mosaic_is_gbrg(real_dir: Path) -> None:
    """The Flea3 mosaic is GBRG (bllanos/chromatic-aberration scripts set bayer_pattern = 'gbrg').

    Check it against the repository's own demosaiced image d3_01.tif: GBRG binning
    correlates best with it, channel by channel.
    """
    mosaic_path = real_dir / BLLANOS / "d2_colorChecker30cm_raw01.tif"
    reference = tifffile.imread(real_dir / BLLANOS / "d2_colorChecker30cm_d3_01.tif").astype(np.float64)
    reference = reference[:342:2, :408:2]
    scores = {}
    for cfa in CFA_PATTERNS:
        image = read_image(mosaic_path, IngestOptions(cfa=cfa, half_size=True))
        assert image.RGB.shape == (171, 204, 3) and image.metadata.source_kind == "bayer"
        scores[cfa] = np.mean([np.corrcoef(image.RGB[..., c].ravel(), reference[..., c].ravel())[0, 1]
                               for c in range(3)])
    assert max(scores, key=scores.__getitem__) == "GBRG"
    assert scores["GBRG"] > 0.95
    full = read_image(mosaic_path, IngestOptions(cfa="GBRG"))
    assert full.RGB.shape == (342, 408, 3) and full.metadata.white_level == 255
    with pytest.raises(ConfigError, match="pass --cfa"):
        read_image(mosaic_path)


def test_intel_tau_16_bit_linear(real_dir: Path) -> None:
    image = read_image(real_dir / "inteltau__C5_images/S_IMX135_BLCCSC_field_001_sensorname_sony_imx135.png")
    assert image.metadata.source_kind == "linear" and image.RGB.shape == (256, 384, 3)
    assert image.metadata.black_level == (0.0, 0.0, 0.0) and image.metadata.white_level == 65535
    assert float(image.RGB.min()) == pytest.approx(158 / 65535) and float(image.RGB.max()) == 1.0
    assert 0 < image.clipped.sum() < image.clipped.size // 100


def test_nus8_8_bit_linear(real_dir: Path) -> None:
    image = read_image(real_dir / "nus8__Zotkin_pytorch-retinanet/Canon1DsMkIII_0001.PNG")
    meta = image.metadata
    assert meta.source_kind == "linear" and image.RGB.shape == (1024, 1024, 3)
    assert (meta.make, meta.model) == ("Canon", "EOS-1Ds Mark III")
    assert float(image.RGB.min()) == pytest.approx(29 / 255)  # black offset not removed in this 8-bit copy
    offset = read_image(real_dir / "nus8__Zotkin_pytorch-retinanet/Canon1DsMkIII_0001.PNG",
                        IngestOptions(black_level=28))
    assert float(offset.RGB.min()) == pytest.approx(1 / 227)


def test_rendered_jpeg_photos(real_dir: Path) -> None:
    path = real_dir / "photos__JTvD_arcu_colorchecker/color_checker (1).jpg"
    image = read_image(path)
    assert image.metadata.source_kind == "rendered" and image.RGB.shape == (2040, 1530, 3)
    srgb = read_srgb8(path)
    assert srgb.shape == (2040, 1530, 3) and srgb.dtype == np.uint8
    from ccharmony.io.rendered import srgb_decoding_lut

    np.testing.assert_array_equal(image.RGB, srgb_decoding_lut(8)[srgb])
