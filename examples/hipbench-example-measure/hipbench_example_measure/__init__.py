"""``lateral_displacement``: how far the proximal femur sits lateral to Perkin's line, as a share of the
inter-triradiate distance (a scale-free cousin of Reimers' migration percentage that needs no femoral head
width). An example of a third-party measure: the contract is ``hipbench.measures.Measure``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hipbench.geometry import hilgenreiner_frame, missing_reasons, perkin_coordinates
from hipbench.measures import CONTINUOUS, Measure, MeasureValues
from hipbench.schema import LandmarkSchema


class LateralDisplacement(Measure):
    """100 x (lateral distance of the H-point from Perkin's line) / (inter-triradiate distance), per hip;
    negative when the H-point is medial to Perkin's line.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [0, 0], [75, 120],
        ...                 [240, 90], [200, 100], [0, 0], [250, 105.]])
        >>> LateralDisplacement().compute(pts, get_schema("mtddh8")).values.tolist()
        [-15.0, 10.0]
    """

    name: ClassVar[str] = "lateral_displacement"
    title: ClassVar[str] = "Lateral displacement"
    kind: ClassVar[str] = CONTINUOUS
    unit: ClassVar[str] = "%"
    roles: ClassVar[tuple[str, ...]] = ("triradiate", "acetabular_margin", "h_point")

    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        x = perkin_coordinates(points, schema, "h_point")[..., 0]
        width = hilgenreiner_frame(points, schema).width[..., None]
        return MeasureValues(100.0 * x / width, missing_reasons(points, schema, self.roles))
