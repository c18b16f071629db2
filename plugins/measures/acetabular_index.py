"""``ai``: the acetabular index (Hilgenreiner 1925; Tönnis 1976), degrees."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hipbench.geometry import acetabular_index, ungradable_reason
from hipbench.measures import CONTINUOUS, Measure, MeasureValues
from hipbench.schema import LandmarkSchema


class AcetabularIndex(Measure):
    """The angle at the triradiate point between the lateral direction of Hilgenreiner's line (through both
    triradiate points) and the segment to the acetabular margin (the lateral edge of the sourcil), unsigned,
    in degrees. Ungradable when a landmark is missing, the triradiate points coincide, or the margin sits on
    the triradiate point (no direction).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.full((8, 2), np.nan)
        >>> pts[[0, 1, 5, 4]] = [[50, 148], [86, 159], [227, 157], [265, 136]]
        >>> AcetabularIndex().compute(pts, get_schema("mtddh8")).values.round(1).tolist()
        [17.8, 28.1]
    """

    name: ClassVar[str] = "ai"
    title: ClassVar[str] = "AI"
    kind: ClassVar[str] = CONTINUOUS
    unit: ClassVar[str] = "deg"
    roles: ClassVar[tuple[str, ...]] = ("triradiate", "acetabular_margin")

    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        return MeasureValues(acetabular_index(points, schema), ungradable_reason(points, schema, "ai"))
