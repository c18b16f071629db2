"""The synthetic pelvis phantom: radiograph-like AP pelvis images with exact ``ihdi12`` ground truth.

The package: ``settings`` (the generator's settings and the acquisition look), ``common`` (the parameters of one
image, the intended hips and their landmarks, the acquisition layer), ``projection`` (the canonical frame into
the image), ``shapes`` (drawing primitives), ``cartoon`` (the flat-shape style), ``infant`` (an infant's pelvis
drawn from anatomy, the default) and ``generate`` (the entry points below, for either style). The entry points
and the settings are importable from ``hipbench.data.phantom``; every other name from its module.

Examples:
    >>> p = sample_params(seed=0, index=3, config=PhantomConfig(size=64))
    >>> image = render_phantom(p)
    >>> image.shape, image.dtype, bool((image >= 0).all() and (image <= 1).all())
    ((64, 64), dtype('float32'), True)
    >>> phantom_keypoints(p).shape
    (12, 2)
"""

from __future__ import annotations

from hipbench.data.phantom.common import Acquisition, PhantomParams
from hipbench.data.phantom.generate import phantom_pixel_spacing, phantom_sample, render_phantom, sample_params
from hipbench.data.phantom.projection import phantom_keypoints
from hipbench.data.phantom.settings import STYLES, Look, PhantomConfig

__all__ = [
    "STYLES", "Acquisition", "Look", "PhantomConfig", "PhantomParams", "phantom_keypoints", "phantom_pixel_spacing",
    "phantom_sample", "render_phantom", "sample_params",
]
