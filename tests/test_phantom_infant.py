"""The infant style of the phantom: landmarks on the drawn anatomy, exact AI and grade under positioning,
ossification by age, shields off the hips, bit depth, and options that belong to one style only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hipbench.data.phantom import PhantomConfig, phantom_keypoints, phantom_sample, render_phantom, sample_params
from hipbench.data.phantom.infant import NUCLEUS_SCALE, anatomy_layers, itd_mm_at, nucleus_radius
from hipbench.data.phantom.projection import phantom_homography
from hipbench.geometry import acetabular_index, ihdi_grade
from hipbench.registry import DATASETS
from hipbench.schema import SIDES, get_schema

SCHEMA = get_schema("ihdi12")
SIZE = 384
POSED = PhantomConfig(size=SIZE, rotation=15.0, pelvic_rotation=15.0, pelvic_tilt=15.0, obliquity=8.0)


def _on_edge(mask: np.ndarray, point: np.ndarray, radius: int = 2) -> bool:
    """Both inside (> 0.5) and outside (< 0.5) pixels of ``mask`` within ``radius`` pixels of ``point``."""
    x, y = (int(round(v)) for v in point)
    window = mask[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1]
    return bool((window > 0.5).any() and (window < 0.5).any())


def _names(side: str) -> dict[str, int]:
    return {SCHEMA.landmarks[i].name.split("_", 1)[1]: i for i in SCHEMA.side_indices(side)}


@pytest.mark.parametrize("config", [PhantomConfig(size=SIZE), POSED], ids=["default", "posed"])
def test_landmarks_lie_on_the_drawn_anatomy(config):
    for index in range(12):
        params = sample_params(11, index, config)
        layers, _ = anatomy_layers(params)
        points = phantom_keypoints(params)
        for side in SIDES:
            idx = _names(side)
            for name in ("asm", "roof_mid", "tcc"):  # the acetabular roof is the ilium's caudal edge
                assert _on_edge(layers["ilium"], points[idx[name]]), (index, side, name)
            for name in ("metaphysis_lateral", "metaphysis_mid", "metaphysis_medial"):
                assert _on_edge(layers["femur"], points[idx[name]]), (index, side, name)
            # bone just cranial of the roof's midpoint, none just caudal of it (the femoral head's cartilage)
            mid, tcc = points[idx["roof_mid"]], points[idx["tcc"]]
            x, y = (int(round(v)) for v in mid + 0.1 * (tcc - mid))
            assert layers["ilium"][y - 3, x] > 0.5 and layers["ilium"][y + 3, x] < 0.5, (index, side)


def test_ai_and_grade_equal_the_intended_ones_under_rotation_tilt_and_abduction():
    config = dataclasses.replace(POSED, abduction=0.5, grade_mix=(0.25, 0.25, 0.25, 0.25))
    params = [sample_params(5, i, config) for i in range(200)]
    points = np.stack([phantom_keypoints(p) for p in params])
    np.testing.assert_allclose(acetabular_index(points, SCHEMA), [[p.left.ai, p.right.ai] for p in params],
                               atol=1e-6, rtol=0)
    np.testing.assert_array_equal(ihdi_grade(points, SCHEMA), [[p.left.grade, p.right.grade] for p in params])
    assert max(abs(p.anatomy["tilt_x"]) for p in params) > 10 and max(abs(p.anatomy["tilt_y"]) for p in params) > 10
    assert 0.35 < np.mean([p.anatomy["abducted"] for p in params]) < 0.65
    assert (points > 0.03 * SIZE).all() and (points < 0.97 * SIZE).all()  # every landmark in the field


def test_the_tilt_moves_the_pelvis_around_fixed_hip_landmarks():
    """Positioning shows in the anatomy (the pelvis turns, the wings and foramina become asymmetric) while
    the landmarks a reader measures stay the intended ones."""
    params = sample_params(2, 3, PhantomConfig(size=SIZE))
    tilted = dataclasses.replace(params, anatomy={**params.anatomy, "tilt_x": 12.0, "tilt_y": -12.0})
    straight = dataclasses.replace(params, anatomy={**params.anatomy, "tilt_x": 0.0, "tilt_y": 0.0})
    assert not np.allclose(phantom_homography(tilted), np.eye(3))
    np.testing.assert_array_equal(phantom_keypoints(tilted), phantom_keypoints(straight))
    a, _ = anatomy_layers(tilted)
    b, _ = anatomy_layers(straight)
    for tissue in ("ilium", "pelvis_low", "spine"):
        assert np.abs(a[tissue] - b[tissue]).sum() > 0.05 * b[tissue].sum(), tissue


def test_ossific_nucleus_absent_before_its_onset_and_growing_after():
    young = PhantomConfig(size=256, age=(0.05, 0.3), nucleus_onset=(0.4, 0.6))
    for index in range(8):
        params = sample_params(0, index, young)
        assert params.left.nucleus == 0 and params.right.nucleus == 0
        assert anatomy_layers(params)[0]["nucleus"].max() == 0
    old = PhantomConfig(size=256, age=(3.0, 4.0), nucleus_onset=(0.4, 0.6))
    for index in range(8):
        params = sample_params(0, index, old)
        assert params.left.nucleus > 0 and params.right.nucleus > 0
        assert anatomy_layers(params)[0]["nucleus"].sum() > 20
    # later and smaller in a dysplastic hip: at one age and onset, every normal hip has the full radius
    fixed = PhantomConfig(size=128, age=(1.5, 1.5), nucleus_onset=(0.5, 0.5), grade_mix=(0.5, 0.0, 0.5, 0.0),
                          ai_normal=(20.0, 25.0), dysplastic_share=(0.0, 0.0, 0.0, 0.0))
    hips = [h for i in range(40) for h in (sample_params(1, i, fixed).left, sample_params(1, i, fixed).right)]
    full = NUCLEUS_SCALE * nucleus_radius(1.5, 0.5)
    assert all(h.nucleus == pytest.approx(full) for h in hips if h.grade == 1)
    assert all(h.nucleus < full for h in hips if h.grade == 3) and any(h.grade == 3 for h in hips)
    assert nucleus_radius(0.49, 0.5) == 0 < nucleus_radius(0.6, 0.5) < nucleus_radius(2.0, 0.5)


def test_age_drives_scale_and_is_in_the_metadata():
    sample = phantom_sample(sample_params(0, 4, PhantomConfig(size=256)))
    age = sample.meta["age_years"]
    assert 0 <= age <= 4 and sample.meta["style"] == "infant"
    tri = [SCHEMA.role_points(sample.keypoints, "triradiate", side) for side in SIDES]
    assert sample.pixel_spacing == pytest.approx(itd_mm_at(age, 55.0) / np.hypot(*(tri[0] - tri[1])))
    generator = sample.meta["generator"]
    assert {"anatomy", "appearance", "hips"} <= set(generator) and "field" in generator["anatomy"]
    assert itd_mm_at(0.0, 55.0) < itd_mm_at(4.0, 55.0)
    assert phantom_sample(sample_params(0, 4, PhantomConfig(size=256, itd_mm=None))).pixel_spacing is None


def test_shield_and_marker_never_cover_a_landmark():
    config = PhantomConfig(size=256, shield=1.0, marker=1.0, abduction=0.5, pelvic_rotation=12.0)
    kinds = set()
    for index in range(30):
        params = sample_params(3, index, config)
        kinds.add(params.anatomy["shield"])
        layers, _ = anatomy_layers(params)
        lead = layers["shield"] + layers["marker"]
        assert lead.max() > 0.5
        for x, y in phantom_keypoints(params):
            assert lead[int(round(y)), int(round(x))] < 0.01, index
    assert kinds == {"male", "female"}


def test_shares_follow_the_config():
    none = [sample_params(0, i, PhantomConfig(size=64, shield=0.0, diaper=0.0, bowel_gas=0.0, marker=0.0,
                                               abduction=0.0)) for i in range(30)]
    assert all(p.anatomy["shield"] == "none" and not p.anatomy["diaper"] and p.anatomy["gas"] == 0
               and not p.anatomy["marker"] and not p.anatomy["abducted"] for p in none)
    every = [sample_params(0, i, PhantomConfig(size=64, diaper=1.0, bowel_gas=1.0)) for i in range(30)]
    assert all(p.anatomy["diaper"] and p.anatomy["gas"] > 0 for p in every)


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_bit_depth_quantises_the_image(bits):
    image = render_phantom(sample_params(0, 1, PhantomConfig(size=96, bit_depth=bits)))
    levels = 2 ** bits - 1
    np.testing.assert_allclose(image * levels, np.round(image * levels), atol=levels * 2e-7 + 1e-3)
    if bits == 8:
        assert len(np.unique(image)) <= 256


def test_a_real_radiograph_size_renders():
    params = sample_params(0, 0, PhantomConfig(size=1400))
    image = render_phantom(params)
    assert image.shape == (1400, 1400) and 0.05 < float(image.mean()) < 0.9
    small = sample_params(0, 0, PhantomConfig(size=350))
    np.testing.assert_allclose(phantom_keypoints(params) / 4, phantom_keypoints(small), atol=1e-9)


def test_options_of_one_style_are_refused_by_the_other():
    with pytest.raises(ValueError, match="age applies to style infant only"):
        PhantomConfig(style="cartoon", age=(1.0, 2.0))
    with pytest.raises(ValueError, match="style must be one of infant, cartoon"):
        PhantomConfig(style="adult")
    with pytest.raises(ValueError, match="nucleus_onset"):
        PhantomConfig(nucleus_onset=(1.0, 0.5))
    with pytest.raises(ValueError, match="shield must be a share"):
        DATASETS.build({"type": "synthetic_pelvis", "num": 2, "shield": 1.5})
    with pytest.raises(ValueError, match="bit_depth"):
        PhantomConfig(bit_depth=10)


def test_same_seed_same_intended_hips_in_both_styles():
    for index in range(10):
        infant, cartoon = (sample_params(9, index, PhantomConfig(size=128, style=s)) for s in ("infant", "cartoon"))
        for side in SIDES:
            a, b = infant.hip(side), cartoon.hip(side)
            assert (a.ai, a.grade, a.hx, a.hy) == (b.ai, b.grade, b.hx, b.hy)
