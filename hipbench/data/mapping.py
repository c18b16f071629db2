"""Landmarks of one schema read in another's terms: how an external test set (another hospital, another
annotation protocol) is scored by a model trained on a different schema."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from hipbench.schema import LandmarkSchema


def landmark_mapping(source: LandmarkSchema, target: LandmarkSchema,
                     landmark_map: Mapping[str, Any] | None = None) -> list[int | None]:
    """For each ``target`` landmark, the index of the ``source`` landmark that is the same point (None: not
    scored). Matching, in order: ``landmark_map`` (``{source_name: target_name}``, and ``{target_name:
    null}`` to leave a training landmark unscored on purpose), equal names, then the one landmark with the
    same side and clinical role. A target landmark left unmatched is an error naming it.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> m = landmark_mapping(get_schema("ihdi12"), get_schema("mtddh8"), {
        ...     "left_fhc": None, "right_fhc": None, "left_h_point": None, "right_h_point": None})
        >>> [get_schema("ihdi12").names[i] if i is not None else None for i in m][:4]
        ['left_asm', 'left_tcc', None, None]
    """
    landmark_map = dict(landmark_map or {})
    source_names, target_names = set(source.names), set(target.names)
    unknown = [k for k, v in landmark_map.items() if k not in source_names and not (v is None and k in target_names)]
    bad_targets = [v for v in landmark_map.values() if v is not None and v not in target_names]
    if unknown or bad_targets:
        raise ValueError(f"landmark_map: {', '.join(map(str, unknown))} not in the test schema "
                         f"{source.name!r} ({', '.join(source.names)})" if unknown else
                         f"landmark_map: {', '.join(map(str, bad_targets))} not in the training schema "
                         f"{target.name!r} ({', '.join(target.names)})")
    explicit = {v: source.index(k) for k, v in landmark_map.items() if v is not None}
    unscored = {k for k, v in landmark_map.items() if v is None and k in target_names and k not in source_names}
    by_role: dict[tuple[str, str], list[int]] = {}
    for i, lm in enumerate(source.landmarks):
        if lm.role != "extra":
            by_role.setdefault((lm.side, lm.role), []).append(i)
    mapping: list[int | None] = []
    missing = []
    for lm in target.landmarks:
        if lm.name in explicit:
            mapping.append(explicit[lm.name])
        elif lm.name in unscored:
            mapping.append(None)
        elif lm.name in source_names:
            mapping.append(source.index(lm.name))
        elif lm.role != "extra" and len(by_role.get((lm.side, lm.role), [])) == 1:
            mapping.append(by_role[(lm.side, lm.role)][0])
        else:
            mapping.append(None)
            missing.append(lm.name)
    if missing:
        raise ValueError(f"the test schema {source.name!r} has no landmark for {', '.join(missing)} of the "
                         f"training schema {target.name!r}; map them with landmark_map: {{TEST_NAME: TRAIN_NAME}}, "
                         f"or leave them unscored with {{TRAIN_NAME: null}}")
    return mapping


def map_samples(samples: Sequence[Any], target: LandmarkSchema, mapping: Sequence[int | None]) -> list[Any]:
    """``samples`` with keypoints in ``target``'s order (NaN and invisible where ``mapping`` has None)."""
    out = []
    for sample in samples:
        points = np.full((len(mapping), 2), np.nan)
        visible = np.zeros(len(mapping), bool)
        for k, i in enumerate(mapping):
            if i is not None:
                points[k], visible[k] = sample.keypoints[i], sample.visible[i]
        out.append(dataclasses.replace(sample, keypoints=points, visible=visible, schema=target))
    return out
