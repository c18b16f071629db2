"""``bilateral_crops``: the two-stage framing. A detector finds each hip; the model sees one square crop per
hip, the right hip mirrored into the left one's orientation, and predicts that hip's landmarks."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from hipbench.data.sample import Sample
from hipbench.pipeline.framing import Framing
from hipbench.pipeline.views import ViewSet, make_crops
from hipbench.schema import SIDES, LandmarkSchema


class BilateralCrops(Framing):
    """Two crops per image from hip boxes: ``input_size`` px squares ``crop_expand`` x the box's longer
    side, right hips mirrored when ``mirror``. Defaults come from the benchmark's ``train`` settings.

    Examples:
        >>> from hipbench.schema import get_schema, generic_schema
        >>> BilateralCrops.unsupported(get_schema("ihdi12")) is None
        True
        >>> BilateralCrops.unsupported(generic_schema("ceph", ["sella", "nasion"]))
        'it needs landmarks on both image sides (left_... and right_... names), and this schema has none'
    """

    name: ClassVar[str] = "bilateral_crops"
    uses_detector: ClassVar[bool] = True
    centred_views: ClassVar[bool] = True

    def __init__(self, input_size: int = 128, crop_expand: float = 1.25, mirror: bool = True) -> None:
        self.input_size, self.crop_expand, self.mirror = int(input_size), float(crop_expand), bool(mirror)

    @classmethod
    def unsupported(cls, schema: LandmarkSchema) -> str | None:
        per_side = [schema.unilateral_indices(side) for side in SIDES]
        if not all(per_side):
            return ("it needs landmarks on both image sides (left_... and right_... names), and this schema has "
                    "none" if not any(per_side) else "only one image side has landmarks")
        return None

    @classmethod
    def suitability(cls, schema: LandmarkSchema) -> int:
        return 0 if cls.unsupported(schema) else 2

    def views(self, samples: Sequence[Sample], boxes: Sequence[dict[str, Any]] | None = None) -> ViewSet:
        if boxes is None:
            raise ValueError("bilateral_crops needs hip boxes for every sample")
        return make_crops(samples, boxes, self.input_size, self.crop_expand, self.mirror)

    @classmethod
    def from_train(cls, train: Any, **kwargs: Any) -> "BilateralCrops":
        defaults = {"input_size": train.input_size, "crop_expand": train.crop_expand, "mirror": train.mirror}
        return cls(**{**defaults, **kwargs})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "crop_expand": self.crop_expand, "mirror": self.mirror}

