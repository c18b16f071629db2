"""Landmark schemas: ihdi12 and mtddh8 as docs/DEFINITIONS.md describes them, derived roles, flips, generic schemas."""

from __future__ import annotations

import numpy as np
import pytest

from hipbench.schema import SCHEMAS, generic_schema, get_schema, schema_from_spec


def test_ihdi12_order_sides_and_roles():
    s = get_schema("ihdi12")
    assert s.names == ("left_asm", "left_roof_mid", "left_tcc", "left_metaphysis_lateral", "left_metaphysis_mid",
                       "left_metaphysis_medial", "right_tcc", "right_roof_mid", "right_asm",
                       "right_metaphysis_medial", "right_metaphysis_mid", "right_metaphysis_lateral")
    assert s.side_indices("left") == list(range(6)) and s.side_indices("right") == list(range(6, 12))
    assert s.role_sources("triradiate", "left") == [2] and s.role_sources("triradiate", "right") == [6]
    assert s.role_sources("acetabular_margin", "right") == [8]
    # H-point is derived: the midpoint of the metaphysis ends, on each side
    assert s.role_sources("h_point", "left") == [3, 5] and s.role_sources("h_point", "right") == [11, 9]
    pts = np.zeros((12, 2))
    pts[3], pts[5] = [10, 20], [30, 40]
    assert s.role_points(pts, "h_point", "left").tolist() == [20.0, 30.0]
    assert not s.has_role("femoral_head", "left")
    assert np.isnan(s.role_points(pts, "femoral_head", "left")).all()


def test_mtddh8_and_flip_permutation_is_an_involution():
    s = get_schema("mtddh8")
    assert s.names[:4] == ("left_asm", "left_tcc", "left_fhc", "left_h_point")
    assert [s.landmarks[i].role for i in range(4)] == ["acetabular_margin", "triradiate", "femoral_head", "h_point"]
    for schema in SCHEMAS.values():
        perm = schema.flip_permutation()
        assert sorted(perm) == list(range(schema.num_keypoints))
        assert [perm[p] for p in perm] == list(range(schema.num_keypoints))
        for i, j in enumerate(perm):  # a flip partner has the same suffix and role on the other side
            a, b = schema.landmarks[i], schema.landmarks[j]
            assert a.role == b.role and a.name.split("_", 1)[1] == b.name.split("_", 1)[1]


def test_unilateral_indices_line_up_by_name():
    s = get_schema("ihdi12")
    left, right = s.unilateral_indices("left"), s.unilateral_indices("right")
    for i, j in zip(left, right):
        assert s.names[i].replace("left_", "") == s.names[j].replace("right_", "")
    assert s.unilateral_names()[0] == "asm"


def test_generic_and_spec_schemas():
    s = generic_schema("knee", ["L_TCC", "R_TCC", "left-asm", "right-asm", "apex"])
    assert [lm.side for lm in s.landmarks] == ["left", "right", "left", "right", "none"]
    assert [lm.role for lm in s.landmarks][:4] == ["triradiate", "triradiate", "acetabular_margin", "acetabular_margin"]
    assert s.flip_permutation() == [1, 0, 3, 2, 4]
    spec = {"name": "t", "landmarks": [{"name": "a", "side": "left", "role": "extra"},
                                       {"name": "b", "side": "left", "role": "extra"}],
            "derived": [{"role": "h_point", "side": "left", "sources": ["a", "b"]}]}
    t = get_schema(spec)
    assert t.role_points(np.array([[0.0, 0], [2, 4]]), "h_point", "left").tolist() == [1.0, 2.0]


def test_schema_errors_are_clear():
    with pytest.raises(KeyError, match="known schemas"):
        get_schema("nope")
    with pytest.raises(ValueError, match="invalid landmark schema spec"):
        schema_from_spec({"name": "x"})
    with pytest.raises(ValueError, match="side must be"):
        schema_from_spec({"landmarks": [{"name": "a", "side": "up"}]})
    with pytest.raises(KeyError, match="has no landmark"):
        get_schema("mtddh8").index("left_nose")
