"""Data reading, the loader (workers, epochs), training steps, determinism and checkpoint resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ccharmony.errors import ConfigError, DatasetError, UnreadableImageError, UnsupportedFormatError
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
        # The message names both spellings (issue 11: "no *_test.txt list" while lists are <Name>test.txt).
        with pytest.raises(DatasetError) as raised:
            read_split(tmp_path, "train")
        assert str(raised.value) == (f"{tmp_path}: no train split list: expected <Name>train.txt or "
                                     "<Name>_train.txt in the folder (or in each iHarmony4 subset folder)")

    def test_bad_name(self, toy):
        with pytest.raises(DatasetError, match="<id>_<fg>_<k>"):
            sample_paths(toy, "composite_images/nounderscore.jpg")

    def test_unreadable_image(self, tmp_path):
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not a jpeg")
        with pytest.raises(UnsupportedFormatError, match="bad.jpg: file content is not a recognised image format"):
            read_rgb(bad)
        truncated = tmp_path / "cut.jpg"
        data = (toy_jpeg := (self._jpeg()))[: len(toy_jpeg) // 2]
        truncated.write_bytes(data)
        with pytest.raises(UnreadableImageError, match="cut.jpg: JPEG file is truncated"):
            read_rgb(truncated)

    @staticmethod
    def _jpeg() -> bytes:
        import cv2

        ok, buffer = cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))
        return buffer.tobytes()

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
    # The legacy U-Net GiftNet (the registry's "unet-gift-rd", this test's model since it was written).
    model = build_model("unet-gift-rd", TINY)
    teacher = build_teacher("unet-gift-rd", TINY)  # untrained teacher: fine for the loss routing
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


class TestLoader:
    """The loader with worker processes: same batches as in the main process, each epoch its own draws."""

    def test_workers_give_the_main_process_batches_in_every_epoch(self, toy, tmp_path):
        dataset = HarmonizationDataset(toy, "train", size=16, train=True, seed=4, cache_dir=tmp_path / "cache")
        assert dataset.prepare(progress=False) == 8

        def epochs(workers):
            loader = make_loader(dataset, batch_size=3, shuffle=True, seed=4, drop_last=True, num_workers=workers)
            out = []
            for epoch in range(2):
                loader.sampler.set_epoch(epoch)  # what train() does; the dataset's own epoch is not touched
                out.append(list(loader))
            return out

        for workers in (0, 2):
            for epoch, batches in enumerate(epochs(workers)):
                assert len(batches) == 2
                for batch in batches:
                    # Computed independently, in this process, from (epoch, index) keys.
                    expected = torch.stack([dataset[(epoch, int(i))]["images"] for i in batch["index"]])
                    assert torch.equal(batch["images"], expected), (workers, epoch)
        # The augmentation does change with the epoch (persistent workers must see it).
        assert not torch.equal(dataset[(0, 1)]["images"], dataset[(1, 1)]["images"])
        assert dataset.epoch == 0

    def test_cache_reproduces_decoded_samples_when_nothing_is_shrunk(self, toy, tmp_path):
        # 40x32 images, crops of 16 -> cached side 32: stored as decoded, so every sample is bit-identical.
        plain = HarmonizationDataset(toy, "train", size=16, train=True, seed=2, illuminant_jitter=0.3)
        cached = HarmonizationDataset(toy, "train", size=16, train=True, seed=2, illuminant_jitter=0.3,
                                      cache_dir=tmp_path / "cache")
        cached.prepare(progress=False)
        for epoch in range(2):
            for index in range(len(plain)):
                a, b = plain[(epoch, index)], cached[(epoch, index)]
                for key in ("images", "masks", "target_images"):
                    assert torch.equal(a[key], b[key]), (epoch, index, key)

    def test_negative_workers_refused(self, toy):
        dataset = HarmonizationDataset(toy, "test", size=16)
        with pytest.raises(ConfigError, match="num_workers must be a whole number >= 0, got -1"):
            make_loader(dataset, batch_size=2, shuffle=False, num_workers=-1)


def test_first_step_loss_is_the_initial_models_loss(toy):
    options = TrainOptions(epochs=1, batch_size=4, seed=0, device="cpu", progress=False, num_threads=1)
    terms = default_loss_terms(distillation=False, min_area=10.0)
    seed_everything(0)
    model = build_model("unet", TINY)
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    result = train(model, _loader(toy), options=options, loss_terms=terms)
    # Independently: the initial weights on the loader's first batch, in train mode.
    fresh = build_model("unet", TINY)
    fresh.load_state_dict(initial)
    fresh.train()
    batch = next(iter(_loader(toy)))
    with torch.no_grad():
        expected, _ = compute_loss(terms, fresh(batch["images"], batch["masks"]), batch)
    assert result.first_step_loss == pytest.approx(float(expected), rel=1e-6)


def test_resume_refuses_a_checkpoint_of_another_model(toy, tmp_path):
    options = TrainOptions(epochs=1, batch_size=4, seed=0, device="cpu", progress=False, num_threads=1)
    terms = default_loss_terms(distillation=False, min_area=10.0)
    checkpoint = tmp_path / "last.pt"
    train(build_model("unet", TINY), _loader(toy), options=options, loss_terms=terms, checkpoint_path=checkpoint)
    before = checkpoint.read_bytes()
    with pytest.raises(ConfigError, match="checkpoint does not match the model being trained"):
        train(build_model("unet-gift", TINY), _loader(toy), options=options, loss_terms=terms,
              checkpoint_path=checkpoint)
    assert checkpoint.read_bytes() == before


@pytest.mark.parametrize(("content", "message"), [
    ({"model": "weights"}, "checkpoint weights ('model') must be a mapping of tensors, got a string"),
    ({"model_options": "width=4"}, "checkpoint model_options must be a mapping, got a string"),
    ({"model_options": {"unet": {"width": 4, "colour": 1}}},
     "unknown checkpoint option model_options.unet.colour; accepted: "),
    ({"model_options": {"unet": {"width": "4"}}}, "checkpoint option model_options.unet.width must be a whole "
                                                  "number, got '4'"),
    ({"epoch": -3}, "checkpoint epoch must be a whole number >= 0, got -3"),
])
def test_resume_refuses_bad_checkpoint_content(toy, tmp_path, content, message):
    from ccharmony.harmonization.engine import CHECKPOINT_FORMAT

    model = build_model("unet", TINY)
    state = {"format": CHECKPOINT_FORMAT, "model_name": "unet", "model_options": TINY.to_dict(),
             "model": model.state_dict(), "optimizer": {}, "scheduler": {}, "epoch": 0, **content}
    checkpoint = tmp_path / "last.pt"
    torch.save(state, checkpoint)
    options = TrainOptions(epochs=1, batch_size=4, seed=0, device="cpu", progress=False, num_threads=1)
    with pytest.raises(ConfigError) as raised:
        train(model, _loader(toy), options=options, loss_terms=default_loss_terms(distillation=False),
              checkpoint_path=checkpoint)
    assert str(raised.value).startswith(f"{checkpoint}: {message}")
