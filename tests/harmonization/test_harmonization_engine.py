"""Data reading, training steps, determinism and checkpoint resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ccharmony.errors import ConfigError, DatasetError, UnreadableImageError
from ccharmony.harmonization.data import (
    HarmonizationDataset,
    make_loader,
    read_rgb,
    read_split,
    sample_paths,
)
from ccharmony.harmonization.engine import TrainOptions, default_loss_terms, seed_everything, train
from ccharmony.harmonization.losses import MaskWeightedMSE, compute_loss
from ccharmony.harmonization.models import ModelOptions, UNetOptions, build_model, build_teacher
from harmonization_toy import write_toy_dataset

TINY = ModelOptions(unet=UNetOptions(width=4))


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "data", scenes=6, width=40, height=32,
                             test_scenes=2)


class TestData:
    def test_lists_and_paths(self, toy):
        train_list = read_split(toy, "train")
        assert len(train_list) == 8 and train_list[0] == "composite_images/scene000_1_1.jpg"
        paths = sample_paths(toy, train_list[0])
        assert paths.real == toy / "real_images" / "scene000.jpg"
        assert paths.mask == toy / "masks" / "scene000_1.png"

    def test_bare_names_accepted(self, tmp_path):
        folder = write_toy_dataset(tmp_path / "bare", scenes=3, width=24, height=16, test_scenes=1,
                                   bare_names=True)
        assert read_split(folder, "test") == ["composite_images/scene002_1_1.jpg",
                                              "composite_images/scene002_1_2.jpg"]

    def test_missing_list(self, tmp_path):
        with pytest.raises(DatasetError, match="no \\*_train.txt"):
            read_split(tmp_path, "train")

    def test_bad_name(self, toy):
        with pytest.raises(DatasetError, match="<id>_<fg>_<k>"):
            sample_paths(toy, "composite_images/nounderscore.jpg")

    def test_unreadable_image(self, tmp_path):
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not a jpeg")
        with pytest.raises(UnreadableImageError, match="bad.jpg"):
            read_rgb(bad)

    def test_rgb_order(self, toy):
        # The toy composites are written from RGB arrays flipped to BGR for cv2.
        image = read_rgb(toy / "real_images" / "scene000.jpg")
        assert image.shape == (32, 40, 3) and image.dtype == np.uint8

    def test_eval_samples(self, toy):
        dataset = HarmonizationDataset(toy, "test", size=16)
        sample = dataset[0]
        assert sample["images"].shape == (3, 16, 16) and sample["masks"].shape == (1, 16, 16)
        assert set(torch.unique(sample["masks"]).tolist()) <= {0.0, 1.0}
        assert float(sample["images"].max()) <= 1.0
        # Background identical between composite and real (up to JPEG).
        background = sample["masks"][0] == 0
        difference = (sample["images"] - sample["target_images"]).abs()[:, background]
        assert float(difference.mean()) < 0.02

    def test_augmentation_deterministic_per_epoch(self, toy):
        dataset = HarmonizationDataset(toy, "train", size=16, train=True, seed=3)
        first = dataset[1]["images"]
        assert torch.equal(first, dataset[1]["images"])
        dataset.set_epoch(1)
        assert not torch.equal(first, dataset[1]["images"])

    def test_illuminant_jitter_applies_the_same_gains_to_composite_and_real(self, toy):
        plain = HarmonizationDataset(toy, "train", size=16, train=True, seed=3)
        jittered = HarmonizationDataset(toy, "train", size=16, train=True, seed=3, illuminant_jitter=0.3)
        base, sample = plain[2], jittered[2]
        # Same crop and flip (the gains are drawn after them from the same generator).
        assert torch.equal(base["masks"], sample["masks"])
        unclipped = (sample["images"] < 1.0) & (sample["target_images"] < 1.0) & (base["images"] > 0.05) \
            & (base["target_images"] > 0.05)
        for channel in range(3):
            keep = unclipped[channel]
            gain_c = sample["images"][channel][keep] / base["images"][channel][keep]
            gain_r = sample["target_images"][channel][keep] / base["target_images"][channel][keep]
            assert torch.allclose(gain_c, gain_c.median().expand_as(gain_c), rtol=1e-4)
            assert float(gain_c.median()) == pytest.approx(float(gain_r.median()), rel=1e-5)
            assert np.exp(-0.3) - 1e-6 <= float(gain_c.median()) <= np.exp(0.3) + 1e-6
        gains = [float(sample["images"][c][unclipped[c]].sum() / base["images"][c][unclipped[c]].sum())
                 for c in range(3)]
        assert max(gains) - min(gains) > 1e-3  # per-channel, not one global gain


def _loader(toy, seed=0):
    dataset = HarmonizationDataset(toy, "train", size=32, train=True, seed=seed)
    return make_loader(dataset, batch_size=4, shuffle=True, seed=seed, drop_last=True)


def test_training_steps_lower_the_loss_on_a_fixed_batch(toy):
    seed_everything(0)
    model = build_model("giftnet", TINY)
    teacher = build_teacher(TINY)  # untrained teacher: fine for the loss routing
    batch = next(iter(_loader(toy)))
    terms = default_loss_terms(distillation=True, min_area=10.0)
    composite_loss = float(MaskWeightedMSE(10.0)(batch["images"], batch["target_images"], batch["masks"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        outputs = model(batch["images"], batch["masks"])
        with torch.no_grad():
            batch["teacher_relation_maps"] = teacher.eval().relation_maps(batch["target_images"], batch["masks"])
        loss, values = compute_loss(terms, outputs, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(values["fn_mse"])
    assert losses[-1] < 0.5 * losses[0]
    # Better than the identity (the composite) on this batch: no collapse to "keep the input".
    assert losses[-1] < 0.85 * composite_loss


def _state(model):
    return {key: value.clone() for key, value in model.state_dict().items()}


def test_resume_reproduces_uninterrupted_run(toy, tmp_path):
    options = TrainOptions(epochs=2, batch_size=4, seed=0, device="cpu", progress=False,
                           lr_milestones=(0.5,), num_threads=1)
    terms = default_loss_terms(distillation=False, min_area=10.0)

    seed_everything(0)
    straight = build_model("unet-gift", TINY)
    result = train(straight, _loader(toy), options=options, loss_terms=terms)
    assert len(result.history) == 2 and result.samples_per_second > 0
    # The step decay happened after the first epoch.
    assert result.history[0]["learning_rate"] == pytest.approx(1e-4)

    checkpoint = tmp_path / "last.pt"
    seed_everything(0)
    first = build_model("unet-gift", TINY)
    train(first, _loader(toy), options=TrainOptions(**{**options.to_dict(), "epochs": 1,
                                                       "lr_milestones": (1.0,)}),
          loss_terms=terms, checkpoint_path=checkpoint)
    # A fresh process: new model with different initial weights, resumed from the checkpoint.
    seed_everything(123)
    resumed = build_model("unet-gift", TINY)
    result = train(resumed, _loader(toy), options=options, loss_terms=terms, checkpoint_path=checkpoint)
    assert result.epochs_run == 1 and len(result.history) == 2
    for key, value in _state(straight).items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_device_validation():
    with pytest.raises(ConfigError, match="device"):
        TrainOptions(device="tpu")
