"""The phantom's entry points, for either style: the parameters of image ``index`` of a seed, its pixel
spacing, its image and its :class:`~hipbench.data.sample.Sample`."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from hipbench.data.phantom.cartoon import render_cartoon, sample_cartoon
from hipbench.data.phantom.common import PhantomParams, acquire
from hipbench.data.phantom.infant import itd_mm_at, render_infant, sample_infant
from hipbench.data.phantom.projection import phantom_homography, phantom_keypoints
from hipbench.data.phantom.settings import HALF_ITD, PhantomConfig
from hipbench.schema import SIDES, get_schema


def sample_params(seed: int = 0, index: int = 0, config: PhantomConfig | None = None) -> PhantomParams:
    """The parameters of phantom image ``index`` of ``seed`` (cheap: no rendering).

    Examples:
        >>> a, b = sample_params(1, 5), sample_params(1, 5)
        >>> a == b, a == sample_params(1, 6)
        (True, False)
    """
    config = config or PhantomConfig()
    if config.style == "infant":
        return sample_infant(seed, index, config)
    return sample_cartoon(seed, index, config)


def phantom_pixel_spacing(params: PhantomParams) -> float | None:
    """Millimetres per pixel such that the inter-triradiate distance is ``itd_mm`` (the infant style: its
    distance at the child's age), measured between the triradiate keypoints where the geometry is not the
    canonical one (a tilted cartoon has no single spacing; the infant's is measured in the image).

    Examples:
        >>> round(phantom_pixel_spacing(sample_params(0, 0)), 3) > 0
        True
    """
    if params.itd_mm is None:
        return None
    itd_mm = params.itd_mm
    if params.style == "infant":  # itd_mm is the distance at one year; the child grows
        itd_mm = itd_mm_at(params.age or 0.0, itd_mm)
    if params.style == "infant" or params.acquisition.tilted:
        schema = get_schema("ihdi12")
        points = phantom_keypoints(params)
        left, right = (schema.role_points(points, "triradiate", side) for side in SIDES)
        itd_px = float(np.hypot(*(left - right)))
    else:
        itd_px = (params.left.half_itd + params.right.half_itd) * HALF_ITD * params.size * params.scale
        itd_px /= params.acquisition.field_of_view
    return float(itd_mm / itd_px)


def render_phantom(params: PhantomParams) -> np.ndarray:
    """Render the phantom image of ``params``: float32 (size, size) in [0, 1], deterministic.

    Examples:
        >>> p = sample_params(2, 0, PhantomConfig(size=48))
        >>> bool(np.array_equal(render_phantom(p), render_phantom(p)))
        True
    """
    image = render_infant(params) if params.style == "infant" else render_cartoon(params)
    return acquire(image, params)


def phantom_sample(params: PhantomParams):
    """The :class:`~hipbench.data.sample.Sample` of one phantom image; the image renders on load.

    Examples:
        >>> s = phantom_sample(sample_params(0, 7, PhantomConfig(size=64)))
        >>> s.image_id, s.image_size, s.load_image().shape
        ('phantom_s0_00007', (64, 64), (64, 64))
    """
    from functools import partial

    from hipbench.data.sample import Sample

    schema = get_schema("ihdi12")
    image_id = f"phantom_s{params.seed}_{params.index:05d}"
    acquisition = {**asdict(params.acquisition), "homography": phantom_homography(params).tolist()}
    meta = {"ai": [params.left.ai, params.right.ai], "grade": [params.left.grade, params.right.grade],
            "phantom_params": params, "acquisition": acquisition, "synthetic": True, "style": params.style}
    if params.style == "infant":
        meta["age_years"] = params.age
        meta["generator"] = {"anatomy": dict(params.anatomy), "appearance": dict(params.appearance),
                             "hips": {side: asdict(params.hip(side)) for side in SIDES},
                             "rotation": params.rotation, "scale": params.scale, "shift": list(params.shift)}
    return Sample(image_id, image_id, phantom_keypoints(params), np.ones(schema.num_keypoints, bool), {},
                  (params.size, params.size), schema, phantom_pixel_spacing(params), None,
                  partial(render_phantom, params), meta)
