"""``synthetic_pelvis``: the embedded phantom dataset (no files needed); schema ``ihdi12``."""

from __future__ import annotations

from typing import Sequence

from hipbench.data.dataset import KeypointDataset
from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
from hipbench.schema import get_schema


def synthetic_pelvis(num: int = 200, seed: int = 0, size: int = 256,
                     grade_mix: Sequence[float] = (0.60, 0.20, 0.12, 0.08),
                     ai_normal: Sequence[float] = (15.0, 30.0), ai_dysplastic: Sequence[float] = (30.0, 45.0),
                     dysplastic_share: Sequence[float] = (0.15, 0.60, 0.80, 0.90), rotation: float = 8.0,
                     scale: Sequence[float] = (0.85, 1.15), shift: float = 0.05, itd_mm: float | None = 55.0,
                     contrast: float = 1.0, gamma: float = 1.0, exposure: float = 0.0, noise: float = 0.0,
                     poisson: float = 0.0, blur: float = 0.0, resolution: float = 1.0, field_of_view: float = 1.0,
                     obliquity: float = 0.0, bit_depth: int | None = None, style: str = "infant",
                     age: Sequence[float] = (0.0, 4.0), nucleus_onset: Sequence[float] = (0.2, 0.7),
                     field: Sequence[float] = (2.8, 4.6), pelvic_rotation: float = 6.0, pelvic_tilt: float = 6.0,
                     abduction: float = 0.2, off_centre: float = 0.15, shield: float = 0.3, diaper: float = 0.5,
                     bowel_gas: float = 0.85, marker: float = 0.5, name: str = "synthetic_pelvis") -> KeypointDataset:
    """``num`` phantom radiographs, deterministic per ``seed``; images render lazily on ``load_image``.

    ``style: infant`` (the default) draws an infant pelvis from anatomy, aged ``age`` years (range), with
    femoral-head ossific nuclei from ``nucleus_onset`` years, an image ``field`` inter-triradiate distances
    wide, pelvic rotation and tilt up to ``pelvic_rotation`` / ``pelvic_tilt`` degrees, and shares of images
    with abducted legs, an off-centre patient, a gonadal shield, a diaper, bowel gas and a side marker (see
    :mod:`hipbench.data.phantom.infant`). ``style: cartoon`` is the earlier flat-shape phantom (fast, for
    tests); the infant-only options are refused with it. ``bit_depth`` (8, 12 or 16) quantises the image as
    a detector would.

    The acquisition look (``contrast`` about mid-grey, ``gamma``, ``exposure`` offset, Gaussian ``noise``
    sigma, ``poisson`` quantum noise, ``blur`` sigma in pixels, ``resolution`` share, ``field_of_view`` zoom
    out, ``obliquity`` max tilt in degrees; see :class:`~hipbench.data.phantom.PhantomConfig`) makes a domain
    shift: the same seed in another look is the same anatomy, acquired differently. Its defaults change
    nothing; each sample's ``meta["acquisition"]`` holds its values, tilt angles and homography.

    Examples:
        >>> ds = synthetic_pelvis(num=3, seed=1, size=64)
        >>> len(ds), ds[2].image_id, ds[0].load_image().shape
        (3, 'phantom_s1_00002', (64, 64))
        >>> b = synthetic_pelvis(num=3, seed=1, size=64, blur=1.5, contrast=0.6)
        >>> bool((b[2].keypoints == ds[2].keypoints).all()), b[2].meta["acquisition"]["blur"]
        (True, 1.5)
    """
    if int(num) < 1:
        raise ValueError(f"synthetic_pelvis: num must be at least 1, got {num}")
    config = PhantomConfig(size=int(size), grade_mix=tuple(map(float, grade_mix)),
                           ai_normal=tuple(map(float, ai_normal)), ai_dysplastic=tuple(map(float, ai_dysplastic)),
                           dysplastic_share=tuple(map(float, dysplastic_share)), rotation=float(rotation),
                           scale=tuple(map(float, scale)), shift=float(shift), itd_mm=itd_mm,
                           contrast=contrast, gamma=gamma, exposure=exposure, noise=noise, poisson=poisson,
                           blur=blur, resolution=resolution, field_of_view=field_of_view, obliquity=obliquity,
                           bit_depth=None if bit_depth is None else int(bit_depth), style=str(style),
                           age=_pair(age), nucleus_onset=_pair(nucleus_onset), field=_pair(field),
                           pelvic_rotation=float(pelvic_rotation), pelvic_tilt=float(pelvic_tilt),
                           abduction=float(abduction), off_centre=float(off_centre), shield=float(shield),
                           diaper=float(diaper), bowel_gas=float(bowel_gas), marker=float(marker))
    samples = [phantom_sample(sample_params(seed, i, config)) for i in range(int(num))]
    return KeypointDataset(name, get_schema("ihdi12"), samples)


def _pair(values: Sequence[float]) -> tuple[float, float]:
    pair = tuple(map(float, values))
    if len(pair) != 2:
        raise ValueError(f"synthetic_pelvis: expected (low, high), got {list(values)}")
    return pair[0], pair[1]


def data_identity(style: str = "infant", **_: object) -> str | None:
    """What the generator's kwargs do not say: the drawing of the default style (None for the cartoon, whose
    images are those of every earlier version). A change of the infant drawing bumps this, so no run
    reuses cells trained on other pixels."""
    return None if style == "cartoon" else f"phantom-{style}-1"


synthetic_pelvis.data_identity = data_identity  # type: ignore[attr-defined]
