"""``ce_angle``: Wiberg's centre-edge angle (Wiberg, Acta Chir Scand 1939)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hipbench.geometry import add_reason, missing_reasons, perkin_coordinates
from hipbench.measures import CONTINUOUS, Measure, MeasureValues
from hipbench.schema import LandmarkSchema


class CenterEdgeAngle(Measure):
    """The angle at the femoral head centre between the perpendicular to Hilgenreiner's line (the pelvic
    vertical; Wiberg used the perpendicular to the line joining both head centres, which is undefined when
    one hip is dislocated or unlabelled) and the line to the lateral acetabular margin, in degrees:
    positive when the margin is lateral to the vertical (the head covered), negative when it is medial.
    Ungradable when the margin is not cranial to the head centre (the angle has no meaning) or a landmark
    is missing. Meaningful only once the femoral head is ossified (usually from about 4 years).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[70, 80], [100, 100], [80, 100], [75, 120],      # margin 10 px lateral, 20 up
        ...                 [230, 80], [200, 100], [240, 100], [230, 120.]])  # margin 10 px medial, 20 up
        >>> CenterEdgeAngle().compute(pts, get_schema("mtddh8")).values.round(2).tolist()
        [26.57, -26.57]
    """

    name: ClassVar[str] = "ce_angle"
    title: ClassVar[str] = "CE"
    kind: ClassVar[str] = CONTINUOUS
    unit: ClassVar[str] = "deg"
    roles: ClassVar[tuple[str, ...]] = ("triradiate", "acetabular_margin", "femoral_head")

    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        head = perkin_coordinates(points, schema, "femoral_head")
        margin = perkin_coordinates(points, schema, "acetabular_margin")
        lateral = margin[..., 0] - head[..., 0]
        cranial = head[..., 1] - margin[..., 1]
        with np.errstate(invalid="ignore"):
            angle = np.where(cranial > 0, np.degrees(np.arctan2(lateral, cranial)), np.nan)
        reasons = missing_reasons(points, schema, self.roles)
        for k in range(2):
            add_reason(reasons, k, np.isfinite(cranial[..., k]) & (cranial[..., k] <= 0) & (reasons[..., k] == ""),
                       "acetabular margin not above the femoral head centre")
        return MeasureValues(angle, reasons)
