"""The synthetic pelvis phantom: determinism, exact AI/IHDI by construction, configured grade mix."""

from __future__ import annotations

import numpy as np
import pytest

from hipbench.data.phantom import PhantomConfig, phantom_keypoints, phantom_sample, render_phantom, sample_params
from hipbench.geometry import acetabular_index, ihdi_grade
from hipbench.registry import DATASETS
from hipbench.schema import get_schema

SCHEMA = get_schema("ihdi12")


@pytest.mark.parametrize("style", ["infant", "cartoon"])
def test_deterministic_per_seed_and_index(style):
    config = PhantomConfig(size=96, style=style)
    a, b = sample_params(4, 9, config), sample_params(4, 9, config)
    assert a == b and a != sample_params(5, 9, config) and a != sample_params(4, 10, config)
    np.testing.assert_array_equal(render_phantom(a), render_phantom(b))
    assert not np.array_equal(render_phantom(a), render_phantom(sample_params(4, 10, config)))
    ds1 = DATASETS.build({"type": "synthetic_pelvis", "num": 3, "seed": 4, "size": 96, "style": style})
    ds2 = DATASETS.build({"type": "synthetic_pelvis", "num": 5, "seed": 4, "size": 96, "style": style})
    for s1, s2 in zip(ds1, ds2):  # a sample does not depend on how many were asked for
        assert s1.image_id == s2.image_id
        np.testing.assert_array_equal(s1.keypoints, s2.keypoints)
        np.testing.assert_array_equal(s1.load_image(), s2.load_image())


@pytest.mark.parametrize("style", ["infant", "cartoon"])
def test_computed_ai_and_grade_equal_the_intended_ones(style):
    """Over many draws (with rotation, scale and shift), geometry on the keypoints gives back the parameters."""
    for config in (PhantomConfig(style=style),
                   PhantomConfig(style=style, size=512, rotation=20.0, grade_mix=(0.25, 0.25, 0.25, 0.25))):
        params = [sample_params(7, i, config) for i in range(300)]
        points = np.stack([phantom_keypoints(p) for p in params])
        intended_ai = np.array([[p.left.ai, p.right.ai] for p in params])
        intended_grade = np.array([[p.left.grade, p.right.grade] for p in params])
        np.testing.assert_allclose(acetabular_index(points, SCHEMA), intended_ai, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(ihdi_grade(points, SCHEMA), intended_grade)
        assert set(intended_grade.ravel()) == {1, 2, 3, 4}
        assert (np.abs([p.rotation for p in params]) > 0.5 * config.rotation).any()
        # every landmark lies inside the image
        assert (points >= 0).all() and (points <= config.size).all()


@pytest.mark.parametrize("style", ["infant", "cartoon"])
def test_grade_mix_and_ai_ranges_follow_the_config(style):
    config = PhantomConfig(grade_mix=(0.6, 0.2, 0.12, 0.08), style=style)
    hips = [h for i in range(200) for h in (sample_params(0, i, config).left, sample_params(0, i, config).right)]
    share = np.bincount([h.grade for h in hips], minlength=5)[1:] / len(hips)
    np.testing.assert_allclose(share, [0.6, 0.2, 0.12, 0.08], atol=0.06)
    ai = np.array([h.ai for h in hips])
    assert ai.min() >= 15 and ai.max() <= 45 and (ai < 30).mean() > 0.4 and (ai > 30).mean() > 0.15
    skewed = PhantomConfig(grade_mix=(0, 0, 0, 1), ai_normal=(20, 21), ai_dysplastic=(40, 41), style=style)
    hip = sample_params(0, 0, skewed).left
    assert hip.grade == 4 and (20 <= hip.ai <= 21 or 40 <= hip.ai <= 41)
    with pytest.raises(ValueError, match="grade_mix"):
        PhantomConfig(grade_mix=(1, 0, 0))


def test_sample_metadata_and_landmarks_on_visible_structure():
    s = phantom_sample(sample_params(0, 0, PhantomConfig(size=128, style="cartoon")))
    assert s.schema.name == "ihdi12" and s.image_size == (128, 128) and s.visible.all()
    assert s.meta["grade"] == [int(g) for g in ihdi_grade(s.keypoints, SCHEMA)]
    itd = np.hypot(*(s.keypoints[2] - s.keypoints[6]))
    assert s.pixel_spacing == pytest.approx(55.0 / itd)
    image = s.load_image()
    assert image.dtype == np.float32 and image.shape == (128, 128) and 0 <= image.min() and image.max() <= 1
    # the acetabular roof is bone: just cranial-medial of the roof midpoint is brighter than caudal of it
    for side, idx in (("left", 1), ("right", 7)):
        tcc = SCHEMA.role_points(s.keypoints, "triradiate", side)
        mid = s.keypoints[idx]
        inside = mid + 0.15 * (tcc - mid) + np.array([0, -3.0])
        below = mid + np.array([0, 4.0])
        val = lambda p: image[int(round(p[1])), int(round(p[0]))]  # noqa: E731
        assert val(inside) > val(below)
