"""Evaluation protocols against independent implementations of the peers' formulas (peer_reference.py).

peer_reference.py is our own code, written from each peer's formulas and
conventions (it cites the peer file each reproduces and calls nothing of
ccharmony); on top, the formulas themselves are checked here by hand on small
arrays.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import peer_reference as peer
from ccharmony.errors import ConfigError
from ccharmony.harmonization.data import sample_paths
from ccharmony.harmonization.metrics import METRIC_NAMES
from ccharmony.harmonization.protocols import (
    DEFAULT_PROTOCOL,
    PROTOCOL_NAMES,
    PROTOCOLS,
    get_protocol,
    read_samples,
)

# Both sides compute in float64 with the same float32-rounded Gaussian window, so they agree to rounding
# (benchmarks/protocol_agreement.py prints the largest differences); any convention difference (window,
# padding, data range, mask rule, peak, epsilon) moves a value far more than this tolerance.
TIGHT = 1e-9
SSIM_ABS = 1e-4


def _smooth(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    coarse = rng.uniform(20, 235, (max(2, height // 16), max(2, width // 16), 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _mask(rng: np.random.Generator, height: int, width: int, *, soft: bool) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    radius = rng.uniform(0.15, 0.3) * min(height, width)
    distance = np.hypot(yy - cy, xx - cx)
    if soft:  # anti-aliased edge: 3-pixel ramp
        return np.clip((radius - distance) / 3.0 * 255 + 127.5, 0, 255).astype(np.uint8)
    return np.where(distance < radius, 255, 0).astype(np.uint8)


def _write(path: Path, rgb: np.ndarray) -> None:
    image = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix == ".jpg" else []
    assert cv2.imwrite(str(path), np.ascontiguousarray(image), params)


CASES = {
    # name: (composite H, W, real H, W, composite extension, soft mask, colour mask)
    "shrink-png": (300, 340, 300, 340, ".png", False, False),
    "grow-png-other-real-size": (100, 120, 200, 240, ".png", True, False),
    "jpeg-colour-mask": (190, 260, 190, 260, ".jpg", True, True),
    "already-256": (256, 256, 256, 256, ".png", False, False),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("protocols")
    for sub in ("composite_images", "real_images", "masks", "predictions"):
        (root / sub).mkdir()
    rng = np.random.default_rng(12)
    lines = []
    for index, (case, (ch, cw, rh, rw, extension, soft, colour)) in enumerate(CASES.items()):
        image_id = f"img{index}"
        real = _smooth(rng, rh, rw)
        composite = cv2.resize(real, (cw, ch), interpolation=cv2.INTER_AREA) if (rh, rw) != (ch, cw) else real.copy()
        mask = _mask(rng, ch, cw, soft=soft)
        gain = rng.uniform(0.6, 1.4, 3)
        composite = np.where(mask[..., None] > 127, np.clip(composite * gain, 0, 255), composite).astype(np.uint8)
        _write(root / "real_images" / f"{image_id}.jpg", real)
        if colour:
            mask = np.stack([mask, np.roll(mask, 7, axis=1), np.roll(mask, -5, axis=0)], axis=2)
        _write(root / "masks" / f"{image_id}_1.png", mask)
        _write(root / "composite_images" / f"{image_id}_1_1{extension}", composite)
        # A prediction file of another size, JPEG, as another method would save it.
        prediction = cv2.resize(real, (int(cw * 0.9) + 1, int(ch * 1.1) + 1), interpolation=cv2.INTER_AREA)
        _write(root / "predictions" / f"{image_id}_1_1.jpg", prediction)
        lines.append(f"{image_id}_1_1{extension}")
    (root / "Toy_test.txt").write_text("\n".join(lines) + "\n")
    return root


def _paths(dataset: Path, case: str):
    index = list(CASES).index(case)
    extension = CASES[case][4]
    return sample_paths(dataset, f"composite_images/img{index}_1_1{extension}")


def _peer_sample(protocol: str, paths, size: int = 256):
    return peer.read(protocol, str(paths.composite), str(paths.real), str(paths.mask), size)


def _assert_metrics_close(ours: dict[str, float], theirs: dict[str, float]) -> None:
    """Every metric equal to rounding (NaN where the protocol has none)."""
    for name in METRIC_NAMES:
        a, b = ours[name], theirs[name]
        if math.isnan(b):
            assert math.isnan(a), name
        else:
            assert a == pytest.approx(b, rel=TIGHT, abs=TIGHT), name


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_read_sample_is_the_peers_sample(dataset, protocol, case):
    paths = _paths(dataset, case)
    sample = get_protocol(protocol).read_sample(paths, folder=dataset)
    # For iih, the composite is the peer's "harmonized" image of --evaluation_type ori, resized as it is.
    composite, real, mask = _peer_sample(protocol, paths)
    np.testing.assert_array_equal(sample.composite, np.asarray(composite).astype(np.uint8))
    np.testing.assert_array_equal(sample.real, np.asarray(real).astype(np.uint8))
    np.testing.assert_array_equal(sample.mask, np.asarray(mask, dtype=np.float32))
    assert sample.size == CASES[case][:2]
    assert sample.photo == f"real_images/img{list(CASES).index(case)}"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_model_prediction_scores_as_the_peer(dataset, protocol, case):
    paths = _paths(dataset, case)
    chosen = get_protocol(protocol)
    sample = chosen.read_sample(paths, folder=dataset)
    rng = np.random.default_rng(list(CASES).index(case))
    # A network output around the real image, partly outside [0, 1] (clamped by the protocols).
    output = (sample.real / 255.0 + rng.normal(0, 0.04, sample.real.shape)).astype(np.float32)
    output[:4] = 1.08
    _, real, mask = _peer_sample(protocol, paths)
    pred = peer.prediction(protocol, output)
    ours = chosen.score(chosen.prediction_from_model(output), sample)
    _assert_metrics_close(ours, peer.scores(protocol, pred, real, mask))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_prediction_file_scores_as_the_peer(dataset, protocol, case):
    paths = _paths(dataset, case)
    chosen = get_protocol(protocol)
    sample = chosen.read_sample(paths, folder=dataset)
    file = dataset / "predictions" / f"{paths.name}.jpg"
    ours = chosen.score(chosen.prediction_from_file(chosen.decode_prediction(file.read_bytes(), name=str(file))),
                        sample)
    if protocol == "iih" and CASES[case][1] != 256:
        # ih_evaluation.py reads the prediction file itself as "harmonized".
        harmonized, real, mask = peer.iih_read(str(file), str(paths.real), str(paths.mask))
        theirs = peer.iih_scores(harmonized, real, mask)
    elif protocol == "iih":
        # A 256-wide mask: the peer resizes nothing and fails on a prediction of another size; the protocol
        # resizes it with the peer's own resize (its one documented deviation).
        _, real, mask = peer.iih_read(str(paths.composite), str(paths.real), str(paths.mask))
        harmonized = Image.open(str(file)).convert("RGB").resize((256, 256), Image.BICUBIC)
        theirs = peer.iih_scores(np.array(harmonized, dtype=np.float32), real, mask)
    else:
        # "A prediction read from a file is an image like the others" (the peer's reader and resize).
        if protocol == "ours":
            _, real, mask = peer.ours_read(str(paths.composite), str(paths.real), str(paths.mask))
            image = cv2.imdecode(np.fromfile(str(file), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        else:
            _, real, mask = peer.cdtnet_read(str(paths.composite), str(paths.real), str(paths.mask))
            image = cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB)
        pred = cv2.resize(np.ascontiguousarray(image), (256, 256), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        theirs = peer.scores(protocol, pred, real, mask)
    _assert_metrics_close(ours, theirs)


def test_masks_soft_or_hard(dataset):
    paths = _paths(dataset, "shrink-png")  # a 0/255 mask, shrunk
    masks = {name: get_protocol(name).read_sample(paths, folder=dataset).mask for name in PROTOCOL_NAMES}
    for name in ("bcmi", "issam"):
        fractional = (masks[name] > 0) & (masks[name] < 1)
        assert fractional.sum() > 20, name  # bilinear edges
    for name in ("iih", "ours"):
        assert set(np.unique(masks[name]).tolist()) == {0.0, 1.0}, name
    # The soft mask's area is the hard mask's up to its edges; the two hard masks differ (nearest rules).
    assert abs(masks["bcmi"].sum() - masks["ours"].sum()) < 0.05 * masks["ours"].sum()


def test_colour_mask_channel_rules(dataset):
    """bcmi/issam read OpenCV's channel 0 (blue); ours and iih the grey level."""
    paths = _paths(dataset, "jpeg-colour-mask")
    rgb = cv2.imread(str(paths.mask))[..., ::-1]
    assert not np.array_equal(rgb[..., 0], rgb[..., 2])
    blue = cv2.resize(rgb[..., 2].astype(np.float32) / 255.0, (256, 256), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(get_protocol("bcmi").read_sample(paths, folder=dataset).mask, blue)


def test_issam_is_bcmi_without_ssim(dataset):
    paths = _paths(dataset, "grow-png-other-real-size")
    bcmi, issam = get_protocol("bcmi"), get_protocol("issam")
    sample = bcmi.read_sample(paths, folder=dataset)
    prediction = bcmi.prediction_from_file(sample.real)
    a, b = bcmi.score(prediction, sample), issam.score(prediction, sample)
    for name in ("MSE", "fMSE", "PSNR"):
        assert a[name] == b[name]
    assert all(math.isnan(b[name]) for name in ("fPSNR", "SSIM", "fSSIM"))


def test_hand_computed_values():
    """The formulas on a 2x2 image, computed by hand."""
    from ccharmony.harmonization.protocols.base import EvaluationSample

    real = np.array([[[100, 0, 0], [100, 0, 0]], [[100, 0, 0], [200, 50, 25]]], np.uint8)
    pred = real.astype(np.float64)
    pred[0, 0] = (110, 0, 0)
    pred[0, 1] = (100, 6, 8)
    soft = np.array([[1.0, 0.5], [0.0, 0.0]], np.float32)
    scores = get_protocol("issam", size=2).score(pred, EvaluationSample("a_1_1", "a", real, real, soft, (2, 2)))
    # squared errors 100 (weight 1) and 36 + 64 (weight 0.5): (100 + 50) / (3 * 1.5 + 1e-6); peak max(real) = 200
    assert scores["MSE"] == pytest.approx(200 / 12, rel=1e-12)
    assert scores["fMSE"] == pytest.approx(150 / (4.5 + 1e-6), rel=1e-12)
    assert scores["PSNR"] == pytest.approx(10 * math.log10(200**2 / (200 / 12 + 1e-6)), rel=1e-12)
    hard = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)
    scores = get_protocol("iih", size=2).score(pred, EvaluationSample("a_1_1", "a", real, real, hard, (2, 2)))
    assert scores["fMSE"] == pytest.approx(200 / 6, rel=1e-12)
    assert scores["PSNR"] == pytest.approx(10 * math.log10(255**2 / (200 / 12)), rel=1e-12)
    assert scores["fPSNR"] == pytest.approx(10 * math.log10(255**2 / (200 / 6)), rel=1e-12)
    scores = get_protocol("bcmi", size=2).score(pred, EvaluationSample("a_1_1", "a", real, real, soft, (2, 2)))
    assert scores["fPSNR"] == pytest.approx(10 * math.log10(200**2 / (150 / (4.5 + 1e-6) + 1e-6)), rel=1e-12)
    assert scores["foreground_ratio"] == pytest.approx(1.5 / 4)


def test_conventions_name_everything():
    required = {"protocol", "title", "source", "size", "read", "resize_images", "mask", "model_prediction",
                "file_prediction", "MSE", "fMSE", "PSNR", "fPSNR", "SSIM", "fSSIM", "psnr_peak", "precision"}
    for name in PROTOCOL_NAMES:
        conventions = get_protocol(name).conventions()
        assert required <= set(conventions), name
        assert conventions["protocol"] == name
        if name != "issam":
            assert {"ssim_window", "ssim_padding", "ssim_data_range", "ssim_constants"} <= set(conventions), name
    assert "7x7" in get_protocol("bcmi").conventions()["ssim_window"]
    assert "11x11" in get_protocol("iih").conventions()["ssim_window"]
    assert get_protocol("bcmi").conventions()["ssim_data_range"] == "max(pred) - min(pred) over the whole prediction"


def test_registry_and_errors():
    assert DEFAULT_PROTOCOL == "bcmi" and set(PROTOCOLS) == {"bcmi", "issam", "iih", "ours"}
    assert get_protocol("ours", psnr_peak="max-real").psnr_peak == "max-real"
    assert get_protocol("bcmi").psnr_peak == "max-real" and get_protocol("iih").psnr_peak == "255"
    assert get_protocol(get_protocol("iih"), size=64).size == 64
    with pytest.raises(ConfigError, match=r"unknown protocol 'dovenet'; choose one of bcmi, issam, iih, ours"):
        get_protocol("dovenet")
    with pytest.raises(ConfigError, match=r"protocol bcmi: PSNR peak is 'max-real' by definition, got '255'"):
        get_protocol("bcmi", psnr_peak="255")
    with pytest.raises(ConfigError, match=r"protocol ours: psnr_peak must be one of"):
        get_protocol("ours", psnr_peak="1")
    with pytest.raises(ConfigError, match=r"size must be a whole number >= 1, got 0"):
        get_protocol("iih", size=0)
    with pytest.raises(ConfigError, match=r"prediction must be \(256, 256, 3\), got \(4, 4, 3\)"):
        get_protocol("bcmi").prediction_from_model(np.zeros((4, 4, 3)))


def test_read_samples_keeps_order(dataset):
    paths = [_paths(dataset, case) for case in reversed(list(CASES))]
    samples = read_samples(dataset, paths, "ours")
    assert [sample.name for sample in samples] == [p.name for p in paths]
    assert len({sample.sha256 for sample in samples}) == len(paths)


def test_cdtnet_data_range_is_the_predictions(dataset):
    """CDTNet's C1, C2 scale with max(pred) - min(pred): a low-contrast prediction shows it."""
    from ccharmony.harmonization.protocols.bcmi import ssim_Cong2022

    paths = _paths(dataset, "shrink-png")
    _, real, mask = peer.cdtnet_read(str(paths.composite), str(paths.real), str(paths.mask))
    pred = (np.asarray(real, np.float32) * 0.3 + 90.0).astype(np.float32)  # range about 70
    theirs = peer.cdtnet_ssim(pred, real, mask)
    ssim, fssim = ssim_Cong2022(pred, real, mask)
    assert (ssim, fssim) == pytest.approx(theirs, rel=TIGHT, abs=TIGHT)
    # With the data range of 255 instead, the value moves far beyond any rounding.
    as_255 = peer.cdtnet_ssim(pred, real, mask, data_range=255.0)
    assert abs(as_255[0] - ssim) > 100 * SSIM_ABS and abs(as_255[1] - fssim) > 100 * SSIM_ABS


def _direct_ssim(a: np.ndarray, b: np.ndarray, side: int, sigma: float, c1: float, c2: float) -> np.ndarray:
    """SSIM map of one channel by explicit window sums, zero outside the image, in plain Python floats."""
    weights = [[math.exp(-((i - side // 2) ** 2 + (j - side // 2) ** 2) / (2 * sigma**2)) for j in range(side)]
               for i in range(side)]
    total = sum(map(sum, weights))
    height, width = a.shape
    out = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            moments = [0.0] * 5  # E[a], E[b], E[a^2], E[b^2], E[ab]
            for i in range(side):
                for j in range(side):
                    yy, xx = y + i - side // 2, x + j - side // 2
                    if 0 <= yy < height and 0 <= xx < width:
                        w = weights[i][j] / total
                        u, v = float(a[yy, xx]), float(b[yy, xx])
                        for k, value in enumerate((u, v, u * u, v * v, u * v)):
                            moments[k] += w * value
            ma, mb, aa, bb, ab = moments
            va, vb, cov = aa - ma * ma, bb - mb * mb, ab - ma * mb
            out[y, x] = (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return out


def test_reference_ssim_is_the_definition_on_a_small_array():
    """The references' SSIM (CDTNet 7x7 with data range, IIH 11x11 with fixed constants) against explicit sums."""
    rng = np.random.default_rng(3)
    real = rng.integers(0, 256, (9, 12, 3)).astype(np.float64)
    pred = np.clip(real + rng.normal(0, 20, real.shape), 0, 255).round()
    mask = np.zeros((9, 12))
    mask[2:7, 3:10] = 1.0
    mask[2, 3] = 0.5  # a soft edge pixel
    span = float(pred.max() - pred.min())
    maps = np.stack([_direct_ssim(pred[..., c], real[..., c], 7, 1.5, (0.01 * span) ** 2, (0.03 * span) ** 2)
                     for c in range(3)], axis=-1)
    expected_f = np.mean([(maps[..., c] * mask).sum() / mask.sum() for c in range(3)])
    # The references use the float32-rounded window: its sum differs from 1 by ~1e-7, hence 1e-6.
    assert peer.cdtnet_ssim(pred, real, mask) == pytest.approx((maps.mean(), expected_f), abs=1e-6)
    hard = (mask > 0.75).astype(np.float64)
    maps = np.stack([_direct_ssim(pred[..., c], real[..., c], 11, 1.5, 1e-4, 9e-4) for c in range(3)], axis=-1)
    got = peer.iih_scores(pred, real, hard)
    assert got["SSIM"] == pytest.approx(maps.mean(), abs=1e-4)
    assert got["fSSIM"] == pytest.approx(np.mean([(maps[..., c] * hard).sum() / hard.sum() for c in range(3)]),
                                         abs=1e-4)
    assert got["fMSE"] == pytest.approx(((pred - real) ** 2 * hard[..., None]).sum() / (3 * hard.sum()), rel=1e-12)


def test_reference_window_is_a_normalised_gaussian():
    window = peer.float32_gaussian_window(7, 1.5)
    assert window.dtype == np.float32 and window.shape == (7, 7)
    assert float(window.astype(np.float64).sum()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(window, window.T)
    profile = np.exp(-((np.arange(7) - 3) ** 2) / 4.5)
    np.testing.assert_allclose(window, np.outer(profile, profile) / profile.sum() ** 2, rtol=1e-6)
