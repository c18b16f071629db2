"""The plugin contracts live in core and core names no plugin: codec, metric, neck, detector (restoring,
choosing by checkpoint suffix, the oracle flag) and the oracle boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hipbench.metrics.metric import Metric
from hipbench.models.codec import Codec
from hipbench.models.neck import Neck
from hipbench.pipeline.detector import HipDetector, detector_for_checkpoint, oracle_boxes, restorable
from hipbench.registry import CODECS, DETECTORS, METRICS, NECKS
from hipbench.schema import get_schema


@pytest.mark.parametrize(("registry", "base"), [(CODECS, Codec), (METRICS, Metric), (NECKS, Neck),
                                                (DETECTORS, HipDetector)])
def test_every_builtin_plugin_subclasses_its_core_contract(registry, base) -> None:
    assert f"{base.__module__}.{base.__name__}" in " ".join(registry.contract.split())
    for name in registry.names():
        assert issubclass(registry.get(name), base), name


def test_codec_progress_hook_reaches_the_codec_through_the_model() -> None:
    from hipbench.models.keypoint_model import build_model

    model = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": "dilated_mask"}, num_keypoints=2,
                        input_size=32)
    model.head.codec = CODECS.build({"type": "disk_mask", "input_size": 32, "radius": 6.0, "final_radius": 2.0})
    model.set_progress(1.0)
    assert model.head.codec.radius == pytest.approx(2.0)
    with pytest.raises(TypeError, match="abstract"):
        Codec(input_size=8)  # type: ignore[abstract]


def test_oracle_boxes_are_the_gt_detectors_boxes() -> None:
    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    samples = list(synthetic_pelvis(num=3, seed=2, size=64))
    samples[1].keypoints[samples[1].schema.side_indices("right")] = np.nan
    gt = DETECTORS.build({"type": "gt", "margin": 0.1})
    for ours, theirs in zip(oracle_boxes(samples, 0.1), gt.predict(samples)):
        assert ours.keys() == theirs.keys()
        assert all((a is None and b is None) or np.array_equal(a, b) for a, b in zip(ours.values(), theirs.values()))
    assert oracle_boxes(samples)[1]["right"] is None and samples[0].meta["synthetic"] is True


def test_detectors_declare_labels_and_checkpoints() -> None:
    gt, yolo = DETECTORS.get("gt"), DETECTORS.get("yolo")
    assert gt.needs_labels and not restorable(gt) and not yolo.needs_labels and restorable(yolo)
    assert detector_for_checkpoint(Path("best.PT")) == "yolo"
    with pytest.raises(NotImplementedError, match="detector 'gt'"):
        gt.from_checkpoint(Path("x.pt"))


def test_suffix_choice_is_by_metadata_and_refuses_ambiguity() -> None:
    class Loadable(HipDetector):
        checkpoint_suffixes = (".onnx",)

        def load(self, checkpoint: Path, device: str = "cpu") -> None:
            self.loaded = Path(checkpoint).name

        def predict(self, samples):
            return [{"left": None, "right": None} for _ in samples]

    DETECTORS.register_module(name="test_onnx_a", module=Loadable, force=True)
    try:
        assert detector_for_checkpoint(Path("net.onnx")) == "test_onnx_a"
        assert DETECTORS.get("test_onnx_a").from_checkpoint(Path("net.onnx")).loaded == "net.onnx"
        DETECTORS.register_module(name="test_onnx_b", module=type("Other", (Loadable,), {}), force=True)
        with pytest.raises(ValueError, match=r"several detectors load '.onnx' files \(test_onnx_a, test_onnx_b\)"):
            detector_for_checkpoint(Path("net.onnx"))
    finally:
        for name in ("test_onnx_a", "test_onnx_b"):
            DETECTORS._module_dict.pop(name, None)
    with pytest.raises(ValueError, match="no registered detector loads '.onnx' files"):
        detector_for_checkpoint(Path("net.onnx"))


def test_metric_contract_is_abstract_and_keeps_options() -> None:
    nme = METRICS.build({"type": "nme", "normaliser": "bbox"})
    assert isinstance(nme, Metric) and repr(nme) == "NME(normaliser='bbox', per_landmark=False)"
    gt = np.zeros((1, 8, 2))
    gt[0, 5] = [30, 40]
    assert nme.compute(gt, gt, get_schema("mtddh8"))["nme"] == 0.0
    with pytest.raises(TypeError, match="abstract"):
        Metric()  # type: ignore[abstract]


def test_neck_contract_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="must be non-empty and of equal length"):
        NECKS.build({"type": "fpn", "in_channels": (8, 16), "in_strides": (4,)})
    neck = NECKS.build({"type": "fpn", "in_channels": (8, 16), "in_strides": (4, 8), "channels": 4})
    assert isinstance(neck, Neck) and neck((torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4)))[0].shape[1] == 8


def test_an_unknown_neck_in_a_benchmark_gets_the_registrys_suggestion() -> None:
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import check_combination

    bench = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "necks": ["fpm", "fpn"],
                             "heads": ["heatmap"]})
    reasons = sorted(str(check_combination(c)) for c in bench.combinations())
    assert reasons == ["None", "neck: Unknown necks 'fpm'. Did you mean 'fpn'? Known necks: fpn, fpn_concat."]
