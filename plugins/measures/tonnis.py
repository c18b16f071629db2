"""``tonnis``: the Tönnis grade of the femoral head's position (Tönnis, Congenital Dysplasia and
Dislocation of the Hip, Springer 1987; Tönnis 1976)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hipbench.geometry import add_reason, hilgenreiner_frame, missing_reasons, perkin_coordinates
from hipbench.grades import UNGRADABLE
from hipbench.measures import GRADED, Measure, MeasureValues
from hipbench.schema import LandmarkSchema


class TonnisGrade(Measure):
    """Where the ossific nucleus of the femoral head lies against Perkin's line (P: through the acetabular
    margin, perpendicular to Hilgenreiner's line H) and the level of the superolateral acetabular margin
    (the parallel to H through it): 1 medial to P; 2 lateral to P and below the margin's level; 3 at the
    level; 4 above it. The nucleus is the schema's femoral head centre.

    Boundary rules (x lateral from P, y caudal from H, in the Hilgenreiner frame): x <= 0 is grade 1 (on P
    counts as medial, as IHDI's grade I); "at the level" is a band of ``level_band`` x the inter-triradiate
    distance on either side of the margin's level (0.05 by default, about 2.5 mm in an infant pelvis), its
    edges included in grade 3. A hip without a femoral head centre (not yet ossified, or not labelled) is
    ungradable with that reason.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> s = get_schema("mtddh8")  # per side asm, tcc, fhc, h_point; triradiates 100 px apart
        >>> pts = np.array([[80, 80], [100, 100], [90, 110], [85, 120],       # head medial to P: 1
        ...                 [220, 80], [200, 100], [225, 79], [230, 105.]])  # lateral, 1 px above: 3
        >>> TonnisGrade().compute(pts, s).values.tolist()
        [1.0, 3.0]
    """

    name: ClassVar[str] = "tonnis"
    title: ClassVar[str] = "Tönnis"
    kind: ClassVar[str] = GRADED
    grades: ClassVar[tuple[str, ...]] = ("1", "2", "3", "4")
    roles: ClassVar[tuple[str, ...]] = ("triradiate", "acetabular_margin", "femoral_head")

    def __init__(self, level_band: float = 0.05) -> None:
        self.level_band = float(level_band)

    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        head = perkin_coordinates(points, schema, "femoral_head")
        margin = perkin_coordinates(points, schema, "acetabular_margin")
        band = (self.level_band * hilgenreiner_frame(points, schema).width)[..., None]
        x, above = head[..., 0], margin[..., 1] - head[..., 1]  # above > 0: the head is cranial to the level
        grade = np.full(x.shape, float(UNGRADABLE))
        finite = np.isfinite(x) & np.isfinite(above) & np.isfinite(band)
        with np.errstate(invalid="ignore"):
            grade[finite & (x <= 0)] = 1
            lateral = finite & (x > 0)
            grade[lateral & (above < -band)] = 2
            grade[lateral & (np.abs(above) <= band)] = 3
            grade[lateral & (above > band)] = 4
        reasons = missing_reasons(points, schema, self.roles)
        for k in range(2):
            add_reason(reasons, k, (grade[..., k] == UNGRADABLE) & (reasons[..., k] == ""), "degenerate landmarks")
        return MeasureValues(grade, reasons)
