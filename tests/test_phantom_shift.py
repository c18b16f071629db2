"""The phantom's acquisition look (domain shift): defaults change nothing, geometry options move image and
landmarks together, pixel options leave landmarks alone and change the statistics they should."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from hipbench.data.phantom import (
    Acquisition,
    PhantomConfig,
    phantom_keypoints,
    phantom_sample,
    render_phantom,
    sample_params,
)
from hipbench.data.phantom.projection import phantom_homography
from hipbench.geometry import acetabular_index
from hipbench.imaging import apply_homography, blur, lower_resolution
from hipbench.registry import DATASETS
from hipbench.schema import get_schema

SCHEMA = get_schema("ihdi12")
SIZE = 128


def cartoon(**options) -> PhantomConfig:
    """These look options were built on (and keep bit-identical) the cartoon phantom."""
    return PhantomConfig(style="cartoon", **options)
STYLE_B = dict(contrast=0.6, gamma=1.6, noise=0.05, blur=1.5, resolution=0.5, obliquity=8.0, field_of_view=1.2)
PIXEL_OPTIONS = dict(contrast=0.6, gamma=1.6, exposure=0.1, noise=0.05, poisson=0.05, blur=1.5, resolution=0.5)


def anatomy(params):
    """Everything of ``params`` but its acquisition."""
    return dataclasses.replace(params, acquisition=Acquisition())


def clean(params):
    """``params`` without the detector-frame effects (noise, heel) that a patient's tilt does not move."""
    return dataclasses.replace(params, appearance={**params.appearance, "noise": 0.0, "heel": 0.0})


def high_frequency(image: np.ndarray) -> float:
    return float(np.std(image - cv2.GaussianBlur(image, (0, 0), 2.0)))


def blob(size: int, centre: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def centroid(image: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return np.array([(xx * image).sum(), (yy * image).sum()]) / image.sum()


def test_defaults_are_todays_phantom():
    explicit = cartoon(size=SIZE, contrast=1.0, gamma=1.0, exposure=0.0, noise=0.0, poisson=0.0, blur=0.0,
                             resolution=1.0, field_of_view=1.0, obliquity=0.0)
    for index in range(4):
        p = sample_params(2, index, cartoon(size=SIZE))
        assert p == sample_params(2, index, explicit) and p.acquisition == Acquisition()
        np.testing.assert_array_equal(phantom_homography(p), np.eye(3))
        s = phantom_sample(p)
        np.testing.assert_array_equal(s.load_image(), render_phantom(anatomy(p)))
        np.testing.assert_array_equal(s.keypoints, phantom_keypoints(anatomy(p)))
        assert s.meta["acquisition"]["tilt_x"] == 0.0 and s.meta["acquisition"]["blur"] == 0.0


@pytest.mark.parametrize("option,value", list(PIXEL_OPTIONS.items()))
def test_pixel_options_keep_the_anatomy_and_landmarks(option, value):
    base, styled = cartoon(size=SIZE), cartoon(size=SIZE, **{option: value})
    for index in range(3):
        a, b = sample_params(5, index, base), sample_params(5, index, styled)
        assert anatomy(a) == anatomy(b) and getattr(b.acquisition, option) == value
        np.testing.assert_array_equal(phantom_keypoints(a), phantom_keypoints(b))
        assert phantom_sample(a).pixel_spacing == phantom_sample(b).pixel_spacing
        assert not np.array_equal(render_phantom(a), render_phantom(b))


def test_pixel_options_change_the_statistics_they_should():
    images = {}
    for name, kwargs in {"base": {}, **{k: {k: v} for k, v in PIXEL_OPTIONS.items()}}.items():
        images[name] = [render_phantom(sample_params(1, i, cartoon(size=SIZE, **kwargs))) for i in range(3)]
    for i, base in enumerate(images["base"]):
        assert images["contrast"][i].std() < 0.7 * base.std()  # contrast 0.6 about mid-grey
        assert images["gamma"][i].mean() < base.mean() - 0.05  # gamma > 1 darkens mid-tones
        assert images["exposure"][i].mean() > base.mean() + 0.05
        for sharper in ("noise", "poisson"):
            assert high_frequency(images[sharper][i]) > 1.1 * high_frequency(base)
        for softer in ("blur", "resolution"):
            assert high_frequency(images[softer][i]) < 0.75 * high_frequency(base)
        # the noise sigma shows in a flat region: the most uniform mid-grey 12x12 patch of the clean image
        corners = [(y, x) for y in range(0, SIZE - 12, 4) for x in range(0, SIZE - 12, 4)]
        patches = [(base[y:y + 12, x:x + 12].std(), y, x) for y, x in corners
                   if 0.15 < base[y:y + 12, x:x + 12].mean() < 0.85]
        _, y, x = min(patches)
        flat_noisy = images["noise"][i][y:y + 12, x:x + 12].std()
        assert flat_noisy > 0.04 > 2 * base[y:y + 12, x:x + 12].std()
        # quantum noise follows the photons: stronger where much passes (dark) than through bone (bright)
        added = images["poisson"][i] - base
        assert added[base < 0.25].std() > 1.3 * added[base > 0.6].std()


@pytest.mark.parametrize("index", range(4))
def test_obliquity_warps_image_and_landmarks_with_one_homography(index):
    tilted = clean(sample_params(3, index, cartoon(size=SIZE, obliquity=20.0)))
    h = phantom_homography(tilted)
    assert anatomy(tilted) == clean(sample_params(3, index, cartoon(size=SIZE)))
    assert 0 < max(abs(tilted.acquisition.tilt_x), abs(tilted.acquisition.tilt_y)) <= 20
    np.testing.assert_allclose(phantom_keypoints(tilted), apply_homography(h, phantom_keypoints(anatomy(tilted))),
                               atol=1e-9)
    # the rendered anatomy is the untilted one through the same matrix, and not through its inverse
    flat = render_phantom(anatomy(tilted))
    image = render_phantom(tilted)
    inner = (slice(8, -8),) * 2
    error = {}
    for name, m in (("h", h), ("inverse", np.linalg.inv(h))):
        warped = cv2.warpPerspective(flat, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        error[name] = np.abs(warped - image)[inner].mean()
    assert error["h"] < 0.004 and error["h"] < 0.25 * error["inverse"]


def test_the_warp_of_a_marker_lands_on_the_transformed_point():
    """cv2.warpPerspective's pixels and apply_homography's points agree (pixel centres on integers)."""
    for index in range(3):
        h = phantom_homography(sample_params(0, index, cartoon(size=SIZE, obliquity=25.0)))
        for point in ([20.3, 30.7], [100.0, 25.5], [64.2, 110.9], [15.0, 100.0]):
            marker = blob(SIZE, np.array(point))
            warped = cv2.warpPerspective(marker, h, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
            target = apply_homography(h, np.array([point]))[0]
            assert np.hypot(*(centroid(warped) - target)) < 0.5


def test_resolution_and_blur_keep_pixel_centres():
    point = np.array([40.3, 71.8])
    for acq in (Acquisition(resolution=0.37), Acquisition(resolution=0.5), Acquisition(blur=2.0, resolution=0.25)):
        moved = centroid(lower_resolution(blur(blob(SIZE, point, 3.0), acq.blur), acq.resolution))
        assert np.hypot(*(moved - point)) < 0.25


@pytest.mark.parametrize("fov", [1.2, 1.6])
def test_field_of_view_zooms_image_and_landmarks_about_the_centre(fov):
    c = (SIZE - 1) / 2
    zoom = np.array([[1 / fov, 0, c - c / fov], [0, 1 / fov, c - c / fov]])
    for index in range(3):
        p = clean(sample_params(4, index, cartoon(size=SIZE, field_of_view=fov)))
        np.testing.assert_allclose(phantom_keypoints(p), c + (phantom_keypoints(anatomy(p)) - c) / fov, atol=1e-9)
        zoomed = cv2.warpAffine(render_phantom(anatomy(p)), zoom, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        (dx, dy), _ = cv2.phaseCorrelate(zoomed.astype(np.float64), render_phantom(p).astype(np.float64))
        assert np.hypot(dx, dy) < 0.5
        s, s0 = phantom_sample(p), phantom_sample(anatomy(p))
        assert s.pixel_spacing == pytest.approx(fov * s0.pixel_spacing)


def test_style_b_sample_keeps_intended_ai_and_landmarks_on_bone():
    ds = DATASETS.build({"type": "synthetic_pelvis", "num": 6, "seed": 0, "size": SIZE, "style": "cartoon", **STYLE_B})
    reference = DATASETS.build({"type": "synthetic_pelvis", "num": 6, "seed": 0, "size": SIZE, "style": "cartoon"})
    for s, ref in zip(ds, reference):
        acq = s.meta["acquisition"]
        assert s.meta["ai"] == ref.meta["ai"] and s.meta["grade"] == ref.meta["grade"]
        assert abs(acq["tilt_x"]) <= 8 and abs(acq["tilt_y"]) <= 8 and acq["field_of_view"] == 1.2
        assert np.array(acq["homography"]).shape == (3, 3)
        measured = acetabular_index(s.keypoints, SCHEMA)
        assert 0 < np.abs(measured - np.array(s.meta["ai"])).max() < 3  # a tilt changes the measured AI a little
        itd = np.hypot(*(s.keypoints[2] - s.keypoints[6]))
        assert s.pixel_spacing == pytest.approx(55.0 / itd)
        image = s.load_image()
        assert (s.keypoints >= 0).all() and (s.keypoints <= SIZE - 1).all()
        for idx in (1, 7):  # bone just cranial of the roof midpoint, darker soft tissue/cartilage below it
            mid = s.keypoints[idx]
            val = lambda q: image[int(round(q[1])), int(round(q[0]))]  # noqa: E731
            assert val(mid + [0, -2.5]) > val(mid + [0, 4.0])


def test_deterministic_and_independent_of_option_values():
    config = cartoon(size=SIZE, **STYLE_B)
    a, b = phantom_sample(sample_params(6, 2, config)), phantom_sample(sample_params(6, 2, config))
    np.testing.assert_array_equal(a.load_image(), b.load_image())
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert sample_params(6, 3, config).acquisition != sample_params(6, 2, config).acquisition
    # the tilt direction is a share of the maximum, drawn apart from the anatomy and the pixel options
    half = sample_params(6, 2, cartoon(size=SIZE, obliquity=4.0))
    assert a.meta["acquisition"]["tilt_x"] == pytest.approx(2 * half.acquisition.tilt_x)
    default = sample_params(6, 2, cartoon(size=SIZE))
    assert anatomy(half) == anatomy(sample_params(6, 2, config)) == anatomy(default)
    # one noise source does not change the other's realisation
    both = render_phantom(sample_params(6, 2, cartoon(size=SIZE, noise=0.05, poisson=0.05)))
    gauss = render_phantom(sample_params(6, 2, cartoon(size=SIZE, noise=0.05)))
    quantum = render_phantom(sample_params(6, 2, cartoon(size=SIZE, poisson=0.05)))
    base = render_phantom(sample_params(6, 2, cartoon(size=SIZE)))
    inside = (base > 0.2) & (base < 0.7) & (gauss > 0.02) & (gauss < 0.98) & (quantum > 0.02) & (both < 0.98)
    np.testing.assert_allclose((both - quantum)[inside], (gauss - base)[inside], atol=1e-5)


@pytest.mark.parametrize("option,value", [
    ("gamma", 0.0), ("gamma", -1.0), ("gamma", float("nan")), ("resolution", 0.0), ("resolution", 1.5),
    ("blur", -0.5), ("contrast", 0.0), ("noise", -0.01), ("poisson", -1.0), ("exposure", 2.0),
    ("field_of_view", 0.5), ("obliquity", -1.0), ("obliquity", 45.0), ("gamma", "strong"),
])
def test_bad_look_values_raise_naming_the_option(option, value):
    with pytest.raises(ValueError, match=option):
        PhantomConfig(**{option: value})
    with pytest.raises(ValueError, match=option):
        DATASETS.build({"type": "synthetic_pelvis", "num": 2, option: value})
