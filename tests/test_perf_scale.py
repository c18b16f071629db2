"""benchmarks/perf_scale.py at a few small images: its labels read back through ``mtddh_yolo`` as the phantom's
landmarks, the prepare stage decodes each image once (the views' pass hashes it for the split, which comes out
as before) and a cell then runs with the images moved away and decodes none."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

import hipbench.data.images as images
from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
from hipbench.data.splits import make_folds, read_split
from hipbench.geometry import acetabular_index
from hipbench.runner.config import load_benchmark
from hipbench.runner.prepare import load_dataset, prepare_dataset
from hipbench.runner.run import checked_plan
from hipbench.runner.store import RunStore
from hipbench.runner.tasks import CellTask, execute_task
from hipbench_plugins.datasets.mtddh_yolo import mtddh_yolo
from tests.conftest import REPO_ROOT

SMALL = (96, 128)


def _perf_scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location("perf_scale", REPO_ROOT / "benchmarks" / "perf_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def perf() -> ModuleType:
    return _perf_scale()


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = images.read_image

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(Path(path).stem)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(images, "read_image", counted)
    return reads


def test_generated_labels_read_back_as_the_phantoms_landmarks(perf: ModuleType, tmp_path: Path) -> None:
    made = perf.generate(tmp_path / "data", 4, seed=3, jobs=1, sizes=SMALL)
    assert (made["images"], made["jpeg"], made["png"], made["written"]) == (4, 2, 2, 4)
    assert perf.generate(tmp_path / "data", 4, seed=3, jobs=1, sizes=SMALL)["written"] == 0  # resumes: all kept
    dataset = mtddh_yolo(tmp_path / "data")
    assert len(dataset) == 4 and not dataset.skipped
    for index, sample in enumerate(dataset):
        width, height = sample.image_size
        assert SMALL[0] <= height <= SMALL[1] and height <= width
        params = sample_params(3, index, PhantomConfig(size=height))
        drawn = phantom_sample(params).keypoints
        left, right = perf.column_pads(drawn, height, 0)
        assert left + right <= width - height <= left + right + 0.3 * height
        drawn = drawn + [sample.keypoints[0, 0] - drawn[0, 0], 0]  # the left padding (the extra is drawn at random)
        schema = sample.schema
        tcc = [sample.keypoints[schema.index(f"{side}_tcc"), 0] for side in ("left", "right")]
        assert abs(sum(tcc) / 2 - width / 2) <= 1  # the pelvis centred
        for side in ("left", "right"):
            expected = perf._mtddh8_points(drawn, side)
            for name in ("asm", "tcc", "fhc", "h_point"):
                np.testing.assert_allclose(sample.keypoints[schema.index(f"{side}_{name}")], expected[name], atol=1e-3)
        np.testing.assert_allclose(acetabular_index(sample.keypoints, schema), [params.left.ai, params.right.ai],
                                   atol=1e-3)


def test_prepare_decodes_each_image_once_and_a_cell_none(perf: ModuleType, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    perf.generate(data, 6, seed=1, jobs=1, sizes=SMALL)
    bench = load_benchmark(perf.benchmark_file(tmp_path, data))
    store = RunStore(tmp_path / "run")
    plan = checked_plan(bench, store)
    reads = _counting_reads(monkeypatch)
    errors = prepare_dataset(bench, bench.datasets[0], store, torch.device("cpu"), range(bench.cv.total_folds),
                             echo=lambda _: None, framing=bench.framings[0])
    assert errors == {} and sorted(reads) == sorted(p.stem for p in (data / "images").iterdir())

    samples, _ = load_dataset(bench.datasets[0])  # decoded anew to hash: the split the old order made
    expected = make_folds(samples, folds=bench.cv.folds, val_share=bench.cv.val_share, seed=bench.cv.seed)
    made = read_split(store.split_path(bench.datasets[0].key))
    assert made.folds == expected.folds and made.groups == expected.groups

    reads.clear()
    (data / "images").rename(tmp_path / "moved")  # the cell must not need them
    combination, fold, digest = next(cell for cell in plan.pending if cell[1] == 0)
    outcome = execute_task(CellTask(str(store.root), bench, combination, fold, digest, "cpu", max_retries=0))
    assert outcome["status"] == "ok", outcome
    assert reads == []
