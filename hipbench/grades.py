"""The grades of graded hip measures, defined once.

A graded measure (IHDI, Tönnis) gives each hip an int: its ordered classes 1..n, or :data:`UNGRADABLE` (0)
for a hip it cannot grade (a role the schema lacks, a missing or NaN landmark, degenerate landmarks; see
``docs/DEFINITIONS.md``, "Ungradable hips"). Ungradable is not a class: agreement leaves such pairs out
and coverage counts them. :data:`GRADES` are the four grades I-IV of IHDI (and Tönnis), :data:`GRADE_NAMES`
their printed names, ``ungradable`` included, and :data:`SCREEN_POSITIVE_FROM` the first grade of a positive
screen (IHDI II-IV: dysplastic).

Examples:
    >>> [GRADE_NAMES[g] for g in (*GRADES, UNGRADABLE)]
    ['I', 'II', 'III', 'IV', 'ungradable']
"""

from __future__ import annotations

UNGRADABLE = 0  # the grade of a hip a graded measure cannot grade
GRADES: tuple[int, ...] = (1, 2, 3, 4)  # IHDI (and Tönnis) I-IV
GRADE_NAMES: dict[int, str] = {UNGRADABLE: "ungradable", 1: "I", 2: "II", 3: "III", 4: "IV"}
SCREEN_POSITIVE_FROM = 2  # IHDI II-IV is a positive screen
