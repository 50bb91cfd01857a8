"""Evaluation protocols against independent re-typings of the peers' code (peer_reference.py)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
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

# Tolerances: we compute in float64 with the peers' own float32 window, the peers in float32, so the two
# differ by the peers' float32 rounding: benchmarks/protocol_agreement.py measured, on 40 random images,
# exactly the differences between the peers' lines in float32 and the same lines in float64 (at most
# 3e-5 absolute fMSE, 8e-6 bcmi SSIM, 3e-4 iih fSSIM: IIH's C2 = 9e-4 magnifies float32 rounding). So
# every case is checked twice: loosely against the float32 lines, tightly (1e-10) against the float64 ones.
REL = 2e-6
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
    if protocol in ("bcmi", "issam"):
        return peer.bcmi_read(str(paths.composite), str(paths.real), str(paths.mask), size)
    if protocol == "iih":
        return peer.iih_read(str(paths.composite), str(paths.real), str(paths.mask), size)
    return peer.ours_read(str(paths.composite), str(paths.real), str(paths.mask), size)


def _peer_metrics(protocol: str, pred, real, mask, dtype=torch.float32) -> dict[str, float]:
    if protocol == "bcmi":
        return peer.bcmi_metrics(pred, real, mask, dtype)
    if protocol == "issam":
        values = peer.bcmi_metrics(pred, real, mask, dtype)
        return {**values, "fPSNR": math.nan, "SSIM": math.nan, "fSSIM": math.nan}
    if protocol == "iih":
        return peer.iih_metrics(pred, real, mask, dtype)
    return peer.ours_metrics(pred, real, mask)


def _peer_from_network(protocol: str, output01: np.ndarray) -> np.ndarray:
    if protocol in ("bcmi", "issam"):
        return peer.bcmi_prediction_from_network(output01)
    if protocol == "iih":
        return peer.iih_prediction_from_network(output01)
    return peer.ours_prediction_from_network(output01)


def _assert_metrics_close(ours: dict[str, float], theirs: dict[str, float], *, exact: bool = False) -> None:
    """Compare with the peer's float32 lines (tolerances above) or, ``exact``, with them run in float64."""
    for name in METRIC_NAMES:
        a, b = ours[name], theirs[name]
        if math.isnan(b):
            assert math.isnan(a), name
        elif exact:
            assert a == pytest.approx(b, rel=1e-10, abs=1e-10), name
        elif name in ("SSIM", "fSSIM"):
            assert a == pytest.approx(b, abs=SSIM_ABS), name
        elif name in ("PSNR", "fPSNR"):
            assert a == pytest.approx(b, abs=1e-5), name
        else:
            assert a == pytest.approx(b, rel=REL), name


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
    pred = _peer_from_network(protocol, output)
    ours = chosen.score(chosen.prediction_from_model(output), sample)
    _assert_metrics_close(ours, _peer_metrics(protocol, pred, real, mask))
    # The same peer lines in float64: equal to rounding, so no convention hides in the tolerance.
    _assert_metrics_close(ours, _peer_metrics(protocol, pred, real, mask, torch.float64), exact=True)


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
        theirs = peer.iih_metrics(harmonized, real, mask)
        theirs64 = peer.iih_metrics(harmonized, real, mask, torch.float64)
    elif protocol == "iih":
        # A 256-wide mask: the peer resizes nothing and fails on a prediction of another size; the protocol
        # resizes it with the peer's own resize (its one documented deviation).
        _, real, mask = peer.iih_read(str(paths.composite), str(paths.real), str(paths.mask))
        harmonized = Image.open(str(file)).convert("RGB").resize((256, 256), Image.BICUBIC)
        theirs = peer.iih_metrics(np.array(harmonized, dtype=np.float32), real, mask)
        theirs64 = peer.iih_metrics(np.array(harmonized, dtype=np.float32), real, mask, torch.float64)
    else:
        # "A prediction read from a file is an image like the others" (the peer's reader and resize).
        if protocol == "ours":
            _, real, mask = peer.ours_read(str(paths.composite), str(paths.real), str(paths.mask))
            image = cv2.imdecode(np.fromfile(str(file), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        else:
            _, real, mask = peer.bcmi_read(str(paths.composite), str(paths.real), str(paths.mask))
            image = cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB)
        pred = cv2.resize(np.ascontiguousarray(image), (256, 256), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        theirs = _peer_metrics(protocol, pred, real, mask)
        theirs64 = _peer_metrics(protocol, pred, real, mask, torch.float64)
    _assert_metrics_close(ours, theirs)
    _assert_metrics_close(ours, theirs64, exact=True)


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
    _, real, mask = peer.bcmi_read(str(paths.composite), str(paths.real), str(paths.mask))
    pred = (np.asarray(real, np.float32) * 0.3 + 90.0).astype(np.float32)  # range about 70
    theirs = peer.bcmi_metrics(pred, real, mask)
    ssim, fssim = ssim_Cong2022(pred, real, mask)
    assert (ssim, fssim) == pytest.approx((theirs["SSIM"], theirs["fSSIM"]), abs=SSIM_ABS)
    # With the data range of 255 instead, the peer's value moves far beyond the tolerance.
    window = peer._create_window(7, 3)
    as_255 = peer._ssim_cdtnet(torch.from_numpy(pred.transpose(2, 0, 1).copy())[None],
                               torch.from_numpy(np.asarray(real, np.float32).transpose(2, 0, 1).copy())[None],
                               window, 7, 3, mask=torch.from_numpy(mask)[None], data_range=255.0)
    assert abs(as_255[0] - ssim) > 100 * SSIM_ABS and abs(as_255[1] - fssim) > 100 * SSIM_ABS
