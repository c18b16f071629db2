"""The synthetic pelvis phantom: radiograph-like AP pelvis images with exact ``ihdi12`` ground truth.

The package: ``common`` (the settings, the intended hips and their landmarks, the mapping into the image and the
acquisition layer), ``cartoon`` (the flat-shape style), ``infant`` (an infant's pelvis drawn from anatomy, the
default) and ``generate`` (the entry points below, for either style). Every public name is importable from
``hipbench.data.phantom``.

Examples:
    >>> p = sample_params(seed=0, index=3, config=PhantomConfig(size=64))
    >>> image = render_phantom(p)
    >>> image.shape, image.dtype, bool((image >= 0).all() and (image <= 1).all())
    ((64, 64), dtype('float32'), True)
    >>> phantom_keypoints(p).shape
    (12, 2)
"""

from __future__ import annotations

from hipbench.data.phantom.cartoon import render_cartoon, sample_cartoon
from hipbench.data.phantom.common import (
    ACQUISITION_RANGES,
    BIT_DEPTHS,
    FOCAL,
    GRADE_MARGIN,
    HALF_ITD,
    INFANT_ONLY,
    NOISE_STREAM,
    POISSON_STREAM,
    STYLES,
    TILT_STREAM,
    Acquisition,
    HipParams,
    PhantomConfig,
    PhantomParams,
    check_infant_config,
    phantom_homography,
    phantom_keypoints,
)
from hipbench.data.phantom.generate import phantom_pixel_spacing, phantom_sample, render_phantom, sample_params
from hipbench.data.phantom.infant import (
    ANATOMY_STREAM,
    NUCLEUS_SCALE,
    SHIELDS,
    SIGNAL_STREAM,
    TEXTURE_STREAM,
    Drawing,
    anatomy_layers,
    itd_mm_at,
    nucleus_radius,
    render_infant,
    sample_infant,
)

__all__ = [
    "ACQUISITION_RANGES", "ANATOMY_STREAM", "BIT_DEPTHS", "FOCAL", "GRADE_MARGIN", "HALF_ITD", "INFANT_ONLY",
    "NOISE_STREAM", "NUCLEUS_SCALE", "POISSON_STREAM", "SHIELDS", "SIGNAL_STREAM", "STYLES", "TEXTURE_STREAM",
    "TILT_STREAM", "Acquisition", "Drawing", "HipParams", "PhantomConfig", "PhantomParams", "anatomy_layers",
    "check_infant_config", "itd_mm_at", "nucleus_radius", "phantom_homography", "phantom_keypoints",
    "phantom_pixel_spacing", "phantom_sample", "render_cartoon", "render_infant", "render_phantom", "sample_cartoon",
    "sample_infant", "sample_params",
]
