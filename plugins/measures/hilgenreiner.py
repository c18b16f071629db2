"""``hilgenreiner_h`` and ``hilgenreiner_d``: Hilgenreiner's distances (Hilgenreiner, Med Klin 1925)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hipbench.geometry import missing_reasons, triradiate_coordinates
from hipbench.measures import CONTINUOUS, Measure, MeasureValues
from hipbench.schema import LandmarkSchema


class _HilgenreinerDistance(Measure):
    kind: ClassVar[str] = CONTINUOUS
    unit: ClassVar[str] = "px"
    roles: ClassVar[tuple[str, ...]] = ("triradiate", "h_point")
    axis: ClassVar[int] = 0

    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        local = triradiate_coordinates(points, schema, "h_point")
        return MeasureValues(local[..., self.axis], missing_reasons(points, schema, self.roles))


class HilgenreinerH(_HilgenreinerDistance):
    """h: the distance from the proximal femoral metaphysis (the schema's H-point) to Hilgenreiner's line,
    perpendicular to it, positive caudal (a smaller h means a higher femur; negative: above the line). Pixels,
    and mm on the leaderboard when every image has a pixel spacing.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [70, 110], [75, 120],
        ...                 [240, 90], [200, 100], [250, 95], [230, 95.]])
        >>> HilgenreinerH().compute(pts, get_schema("mtddh8")).values.tolist()
        [20.0, -5.0]
    """

    name: ClassVar[str] = "hilgenreiner_h"
    title: ClassVar[str] = "Hilgenreiner h"
    axis: ClassVar[int] = 1


class HilgenreinerD(_HilgenreinerDistance):
    """d: along Hilgenreiner's line, from the triradiate point (the acetabular floor) to the foot of h,
    positive lateral (a larger d means a lateralised femur). Pixels, and mm when every image has a spacing.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [70, 110], [75, 120],
        ...                 [240, 90], [200, 100], [250, 95], [230, 95.]])
        >>> HilgenreinerD().compute(pts, get_schema("mtddh8")).values.tolist()
        [25.0, 30.0]
    """

    name: ClassVar[str] = "hilgenreiner_d"
    title: ClassVar[str] = "Hilgenreiner d"
    axis: ClassVar[int] = 0
