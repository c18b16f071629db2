"""``examples/hipbench-example-dataset`` (``landmarks_jsonl``): a dataset format pip-installed next to hipbench is
detected and checked by ``data check`` (bad lines named with their number), measured by ``measure``, described
by ``data stats``, trained and scored by ``run`` and written by the web app's Review, with no edit to hipbench.
Also the contract's own promises for the built-in formats: detection, per-file reading, the writable ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from hipbench.data.dataset import DatasetError
from hipbench.data.formats import DatasetFormat, dataset_formats, detect_format, get_format, writable_formats
from hipbench.registry import DATASETS
from tests.conftest import REPO_ROOT, run_cli

EXAMPLE = REPO_ROOT / "examples" / "hipbench-example-dataset"
FORMAT = "landmarks_jsonl"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("dataset-site")
    source = tmp_path_factory.mktemp("dataset-src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)  # build outside the repository, so the tree stays clean
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, timeout=300)
    return target


@pytest.fixture
def installed(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example importable in this process too (the registry rescanned before and after)."""
    monkeypatch.syspath_prepend(str(example_site))
    DATASETS.rescan()
    yield example_site
    monkeypatch.undo()
    DATASETS._module_dict.pop(FORMAT, None)
    DATASETS.rescan()


def jsonl_folder(root: Path, num: int = 12, size: int = 96) -> Path:
    """``num`` phantom radiographs in ``root/images`` and their lines in ``root/landmarks.jsonl``."""
    import cv2

    from hipbench.registry import DATASETS

    (root / "images").mkdir(parents=True)
    lines = []
    for sample in DATASETS.build({"type": "synthetic_pelvis", "num": num, "size": size, "style": "cartoon"}):
        name = f"{sample.image_id}.png"
        cv2.imwrite(str(root / "images" / name), (sample.load_image() * 255).astype(np.uint8))
        lines.append(json.dumps({"image": name, "width": size, "height": size, "schema": sample.schema.name,
                                 "points": np.round(sample.keypoints, 3).tolist()}))
    (root / "landmarks.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_the_built_in_formats_go_through_the_contract(tmp_path: Path) -> None:
    formats = dataset_formats()
    assert {"ihdi_csv", "mtddh_yolo", "landmark_csv", "coco_keypoints", "av_ddh"} <= set(formats)
    assert all(isinstance(f, DatasetFormat) and f.name == name for name, f in formats.items())
    assert "synthetic_pelvis" not in formats  # a generator: a dataset plugin, but no format
    assert {"ihdi_csv", "mtddh_yolo", "landmark_csv"} <= set(writable_formats())
    assert "coco_keypoints" not in writable_formats()
    with pytest.raises(DatasetError, match="Did you mean 'landmark_csv'"):
        get_format("landmark_cvs")
    with pytest.raises(DatasetError, match="reads no files"):
        get_format("synthetic_pelvis")
    with pytest.raises(DatasetError, match=r"cannot tell the dataset format: expected .*annotations/\*\.csv "
                                           r"\(ihdi_csv\), .*labels/\*\.txt \(mtddh_yolo\); pass --format"):
        detect_format(tmp_path)


def test_a_pip_installed_format_is_detected_checked_measured_and_its_bad_lines_named(installed: Path,
                                                                                     tmp_path: Path) -> None:
    data = jsonl_folder(tmp_path / "data")
    listing = run_cli("list", "datasets", extra_path=installed)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:2] == [FORMAT, "hipbench-example-dataset"] for line in listing.stdout.splitlines())
    check = run_cli("data", "check", str(data), extra_path=installed)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"format:  {FORMAT}" in check.stdout and "samples: 12 loaded" in check.stdout

    lines = (data / "landmarks.jsonl").read_text().splitlines()
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    bad = json.loads(lines[2])
    bad["points"][4] = [1e6, 3.0]
    (broken / "landmarks.jsonl").write_text("\n".join([lines[0], "{not json", json.dumps(bad), *lines[3:]]) + "\n")
    check = run_cli("data", "check", str(broken), extra_path=installed)
    assert check.returncode == 1
    assert "landmarks.jsonl:2: not a JSON object" in check.stdout, check.stdout
    assert "landmarks.jsonl:3: point 5 (1e+06, 3) lies outside the 96x96 image" in check.stdout, check.stdout
    assert "image has no entry in landmarks.jsonl" in check.stdout  # the image of the unreadable line

    one = tmp_path / "one"  # one image beside its one-line file: measure finds the image there
    one.mkdir()
    first = json.loads(lines[0])
    shutil.copy(data / "images" / first["image"], one)
    (one / "landmarks.jsonl").write_text(lines[0] + "\n")
    measured = run_cli("measure", str(one / "landmarks.jsonl"), "--out", str(tmp_path / "m.json"),
                       extra_path=installed)
    assert measured.returncode == 0, measured.stdout + measured.stderr
    record = json.loads((tmp_path / "m.json").read_text())["records"][0]
    from hipbench.geometry import acetabular_index
    from hipbench.schema import get_schema

    truth = acetabular_index(np.array(first["points"], float), get_schema("ihdi12"))
    assert record["format"] == FORMAT and record["size_from"] == "image" and record["error"] == ""
    assert [record["ai_left"], record["ai_right"]] == pytest.approx(truth.tolist(), abs=1e-6)
    stats = run_cli("data", "stats", str(data), "--out", str(tmp_path / "stats"), extra_path=installed)
    assert stats.returncode == 0, stats.stdout + stats.stderr

    assert detect_format(data) == FORMAT  # and in this process, through the same registry
    with pytest.raises(DatasetError, match="Did you mean 'landmarks_jsonl'"):
        get_format("landmark_jsonl")


def test_review_writes_a_pip_installed_format_that_data_check_accepts(installed: Path, tmp_path: Path) -> None:
    pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
    pytest.importorskip("httpx", reason="Starlette's test client needs httpx")
    from starlette.testclient import TestClient

    from hipbench.data.check import check_dataset
    from hipbench.serve.app import create_app
    from hipbench.serve.config import ServeConfig

    data = jsonl_folder(tmp_path / "data", num=3)
    first = json.loads((data / "landmarks.jsonl").read_text().splitlines()[0])
    spare = data / "images" / "spare.png"
    shutil.copy(data / "images" / first["image"], spare)
    api = TestClient(create_app(ServeConfig(runs=[], data=data, work_dir=tmp_path / "work", device="cpu")),
                     base_url="http://127.0.0.1:8765")
    folder = api.get("/api/review").json()
    assert folder["format"] == FORMAT and folder["schema"]["name"] == "ihdi12"
    assert {i["name"]: i["annotated"] for i in folder["images"]} == {
        **{json.loads(line)["image"]: True for line in (data / "landmarks.jsonl").read_text().splitlines()},
        "spare.png": False}
    opened = api.get("/api/review/image", params={"name": first["image"]}).json()
    assert np.allclose(np.array(opened["points"], float), first["points"], atol=1e-3)
    moved = np.array(first["points"], float)
    moved[0] += [2.0, -1.5]
    write = {"X-Requested-With": "hipbench"}
    refused = api.post("/api/review/save", headers=write, json={"name": first["image"], "points": moved.tolist()})
    assert refused.status_code == 409  # an existing annotation needs overwrite
    saved = api.post("/api/review/save", headers=write,
                     json={"name": first["image"], "points": moved.tolist(), "overwrite": True})
    assert saved.status_code == 200, saved.text
    assert saved.json()["saved"] == "landmarks.jsonl" and len(saved.json()["changes"]) == 1
    created = api.post("/api/review/save", headers=write, json={"name": "spare.png", "points": first["points"]})
    assert created.status_code == 201, created.text
    written = [json.loads(line) for line in (data / "landmarks.jsonl").read_text().splitlines()]
    assert len(written) == 4 and written[0]["points"][0] == pytest.approx(moved[0].tolist())
    assert written[-1]["image"] == "spare.png"
    report = check_dataset(data)
    assert report.ok and report.format == FORMAT and report.num_samples == 4, report.text()


def test_a_benchmark_trains_and_scores_on_a_pip_installed_format(installed: Path, tmp_path: Path) -> None:
    import pandas as pd

    data = jsonl_folder(tmp_path / "data")
    bench = tmp_path / "b.yaml"
    bench.write_text(f"name: j\ndatasets: [{{type: {FORMAT}, root: {data}}}]\nbackbones: [resnet18]\n"
                     "heads: [heatmap]\ntrain: {epochs: 1, batch_size: 8, input_size: 48}\ncv: {folds: 2}\n"
                     "device: cpu\n")
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress", extra_path=installed)
    assert done.returncode == 0, done.stdout + done.stderr
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert len(board) == 2 and board["nme"].notna().all()  # the mean-shape baseline and the trained model
    results: list[dict[str, Any]] = [json.loads(p.read_text())
                                     for p in (tmp_path / "run" / "cells").glob("*/fold*/result.json")]
    assert results and all(r["status"] == "ok" for r in results)
