"""``ihdi``: the International Hip Dysplasia Institute grade (Narayanan et al., J Pediatr Orthop 2015)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from hipbench.geometry import ihdi_grade, ungradable_reason
from hipbench.grades import GRADE_NAMES, GRADES
from hipbench.measures import GRADED, Measure, MeasureValues
from hipbench.metrics.classification import ihdi_agreement
from hipbench.schema import LandmarkSchema


class IHDIGrade(Measure):
    """The H-point (midpoint of the proximal femoral metaphysis) in the frame of Hilgenreiner's line (H) and
    Perkin's line (P, through the acetabular margin, perpendicular to H), x lateral and y caudal from their
    crossing: IV if y < 0 (above H); I if x <= 0 (medial to P); II if x > 0 and y >= x (below the
    diagonal through the crossing); III if x > 0 and y < x. Points within 1e-9 of the inter-triradiate
    distance of a boundary count as on it. Agreement adds screening figures (grade >= II positive).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[80, 70], [100, 100], [0, 0], [80, 110], [220, 70], [200, 100], [0, 0], [230, 100.]])
        >>> IHDIGrade().compute(pts, get_schema("mtddh8")).values.tolist()
        [1.0, 3.0]
    """

    name: ClassVar[str] = "ihdi"
    title: ClassVar[str] = "IHDI"
    kind: ClassVar[str] = GRADED
    grades: ClassVar[tuple[str, ...]] = tuple(GRADE_NAMES[g] for g in GRADES)
    roles: ClassVar[tuple[str, ...]] = ("triradiate", "acetabular_margin", "h_point")

    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        return MeasureValues(ihdi_grade(points, schema).astype(float), ungradable_reason(points, schema, "ihdi"))

    def agreement(self, *, pred: np.ndarray, gt: np.ndarray) -> dict[str, Any]:
        return ihdi_agreement(pred=np.asarray(pred, dtype=int), gt=np.asarray(gt, dtype=int))
