"""Tests of :mod:`ccharmony.composite`."""

from __future__ import annotations

import numpy as np
import pytest

from ccharmony.composite import TargetCandidate, composite, make_composite, select_targets
from ccharmony.errors import AnnotationError, ConfigError, DatasetError
from ccharmony.render import render_srgb, rendering_parameters
from ccharmony.transfer import fit


def _candidates(n: int = 30) -> list[TargetCandidate]:
    rng = np.random.RandomState(0)
    out = []
    for i in range(n):
        illuminant = tuple(float(v) for v in rng.uniform(0.2, 1.0, 3))
        out.append(TargetCandidate(f"img{i:02d}", illuminant, "A" if i % 3 else "B"))
    return out


class TestSelectTargets:
    @pytest.mark.parametrize("policy", ["random", "diverse"])
    def test_deterministic_and_order_free(self, policy: str) -> None:
        pool = _candidates()
        a = select_targets("img05", pool, k=10, policy=policy, seed=3, min_angle_deg=2)
        b = select_targets("img05", pool[::-1], k=10, policy=policy, seed=3, min_angle_deg=2)
        assert a == b and len(a) == 10 and len(set(a)) == 10 and "img05" not in a

    def test_seed_changes_random(self) -> None:
        pool = _candidates()
        assert select_targets("img05", pool, k=10, seed=1) != select_targets("img05", pool, k=10, seed=2)

    def test_random_is_uniform(self) -> None:
        pool = _candidates(6)
        counts: dict[str, int] = {}
        for seed in range(600):
            for i in select_targets("img00", pool, k=2, seed=seed):
                counts[i] = counts.get(i, 0) + 1
        assert set(counts) == {f"img{i:02d}" for i in range(1, 6)}
        assert all(200 < c < 280 for c in counts.values()), counts  # expected 240 each

    def test_source_absent_random_ok(self) -> None:
        assert len(select_targets("other", _candidates(), k=4)) == 4

    def test_same_camera(self) -> None:
        pool = _candidates()
        chosen = select_targets("img01", pool, k=10, same_camera=True, seed=0)
        cameras = {c.id: c.camera for c in pool}
        assert all(cameras[i] == "A" for i in chosen)

    def test_fewer_than_k(self) -> None:
        pool = _candidates(4)
        assert sorted(select_targets("img00", pool, k=10)) == ["img01", "img02", "img03"]

    def test_diverse_min_angle_and_spread(self) -> None:
        source = TargetCandidate("s", (1.0, 1.0, 1.0), "A")
        near = [TargetCandidate(f"n{i}", (1.0, 1.0, 1.0 + 0.01 * i), "A") for i in range(1, 4)]
        far = [
            TargetCandidate("red", (2.0, 1.0, 0.5), "A"),
            TargetCandidate("red2", (2.0, 1.0, 0.55), "A"),
            TargetCandidate("blue", (0.6, 1.0, 1.8), "A"),
        ]
        chosen = select_targets("s", [source, *near, *far], k=2, policy="diverse", min_angle_deg=5)
        assert sorted(chosen) == ["blue", "red"]  # red2 is next to red; near ones < 5 degrees

    def test_errors(self) -> None:
        with pytest.raises(ConfigError, match=r"unknown target policy 'divers'.*'diverse'"):
            select_targets("img00", _candidates(), policy="divers")
        with pytest.raises(DatasetError, match=r"source image 'x' is not among the candidates"):
            select_targets("x", _candidates(), policy="diverse")
        with pytest.raises(DatasetError, match=r"image img01: the 'diverse' target policy needs its illuminant"):
            select_targets("img00", [_candidates()[0], TargetCandidate("img01")], policy="diverse")
        with pytest.raises(DatasetError, match=r"duplicate image id 'a'"):
            select_targets("a", [TargetCandidate("a"), TargetCandidate("a")])


class TestComposite:
    def _images(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.RandomState(1)
        real = rng.randint(0, 256, (20, 30, 3)).astype(np.uint8)
        mask = np.zeros((20, 30), np.uint8)
        mask[5:15, 8:20] = 255
        return real, mask, rng.randint(0, 256, (20, 30, 3)).astype(np.uint8)

    def test_outside_mask_identical(self) -> None:
        real, mask, moved = self._images()
        out = composite(real, mask, moved)
        assert out[mask == 0].tobytes() == real[mask == 0].tobytes()
        assert out[mask == 255].tobytes() == moved[mask == 255].tobytes()
        assert not np.shares_memory(out, real)

    def test_bool_and_three_channel_masks(self) -> None:
        real, mask, moved = self._images()
        expected = composite(real, mask, moved)
        assert np.array_equal(composite(real, mask > 0, moved), expected)
        assert np.array_equal(composite(real, np.stack([mask] * 3, -1), moved), expected)
        assert np.array_equal(composite(real, (mask > 0).astype(np.uint8), moved), expected)

    def test_soft_mask(self) -> None:
        real = np.full((1, 1, 3), 100, np.uint8)
        out = composite(real, np.array([[51]], np.uint8), np.full((1, 1, 3), 200, np.uint8))
        assert out[0, 0].tolist() == [120, 120, 120]

    def test_mask_errors(self) -> None:
        real, mask, moved = self._images()
        with pytest.raises(AnnotationError, match=r"mask: size \(20, 29\) does not match the real image size \(20, 30\)"):
            composite(real, mask[:, :29], moved)
        bad = np.stack([mask, mask, 255 - mask], -1)
        with pytest.raises(AnnotationError, match=r"channels differ"):
            composite(real, bad, moved)

    def test_make_composite_srgb(self) -> None:
        real, mask, _ = self._images()
        rng = np.random.RandomState(2)
        S = rng.uniform(10, 245, (24, 3))
        T = fit("poly11", S, np.clip(S * [1.1, 1.0, 0.8], 0, 255))
        out = make_composite(real, mask, T)
        assert out[mask == 0].tobytes() == real[mask == 0].tobytes()
        fg = mask == 255
        assert np.array_equal(out[fg], T.apply_uint8(real[fg]))

    def test_make_composite_linear(self) -> None:
        rng = np.random.RandomState(3)
        linear = rng.uniform(0, 0.8, (20, 30, 3)).astype(np.float32)
        P = rendering_parameters(None)
        real = render_srgb(linear, camera_matrix=P)
        mask = np.zeros((20, 30), bool)
        mask[2:9, 3:7] = True
        S = rng.uniform(0.05, 0.9, (24, 3))
        T = fit("diagonal", S, S * [0.5, 1.0, 1.0])
        out = make_composite(real, mask, T, real_linear=linear, render=P)
        assert out[~mask].tobytes() == real[~mask].tobytes()
        assert np.array_equal(out[mask], render_srgb(linear[mask] * [0.5, 1, 1], camera_matrix=P))
        with pytest.raises(ConfigError, match=r"pass real_linear= and render="):
            make_composite(real, mask, T)
