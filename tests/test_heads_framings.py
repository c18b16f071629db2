"""Which framings take which heads: the top-down coordinate heads and dilated_mask are refused on whole images
before training, with the reason; every built-in head runs on crops (tests/test_heads_framings_train.py trains
the grid)."""

from __future__ import annotations

from hipbench.pipeline.framing import head_framing_problem
from hipbench.registry import FRAMINGS, HEADS

BUILT_IN_HEADS = ["direct_regression", "simcc_1d", "simcc_2d", "simcc_2d_deconv", "heatmap", "integral",
                  "dilated_mask"]
# the top-down coordinate heads stayed at the mean shape on whole images and dilated_mask's disk BCE collapsed
# there (docs/guide/framings.md; tests/test_heads_framings_train.py trains the rest): refused there
REFUSED_ON_WHOLE_IMAGES = {"direct_regression", "simcc_1d", "simcc_2d", "simcc_2d_deconv", "dilated_mask"}



def test_the_grid_below_covers_every_built_in_head_and_framing() -> None:
    # yolo_pose pairs with its own backbone family and is tested with it (tests/test_yolo_pose.py)
    built_in = {n for n, e in HEADS.entries().items() if e.builtin} - {"yolo_pose"}
    assert built_in == set(BUILT_IN_HEADS)
    assert {n for n, e in FRAMINGS.entries().items() if e.builtin} == {"bilateral_crops", "whole_image"}


def test_whole_images_refuse_the_top_down_heads_and_crops_take_every_head() -> None:
    refused = {h for h in BUILT_IN_HEADS if head_framing_problem(h, "whole_image")}
    assert refused == REFUSED_ON_WHOLE_IMAGES
    assert not any(head_framing_problem(h, "bilateral_crops") for h in BUILT_IN_HEADS)
    assert "Use the heatmap or integral head" in str(head_framing_problem("simcc_1d", "whole_image"))


def test_a_refused_pair_is_named_before_training() -> None:
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import check_combination

    bench = parse_benchmark({"datasets": ["synthetic_pelvis"], "framings": ["whole_image", "bilateral_crops"],
                             "backbones": ["resnet18"], "heads": ["simcc_1d", "heatmap"]})
    reasons = {(c.framing.type, c.head.type): check_combination(c) for c in bench.combinations()}
    assert str(reasons[("whole_image", "simcc_1d")]).startswith("head 'simcc_1d' needs views centred")
    assert [k for k, v in reasons.items() if v] == [("whole_image", "simcc_1d")]
