"""The real-data path end to end, offline: download MTDDH from a local mirror, dry-run the benchmark on it;
pretrained weights from a local hub cache change the cell hash and reach the leaderboard."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from hipbench.cli import main
from hipbench.runner.config import load_benchmark
from hipbench.runner.hashing import cell_hash
from tests.conftest import REPO_ROOT, run_cli
from tests.test_data_download import Mirror, mirror, source_files  # noqa: F401 (fixtures)
from tests.test_pretrained import REPO, populate_hub_cache

MODEL = "test_convnext"


def test_mtddh_small_dry_run_on_a_downloaded_miniature(mirror: Mirror, tmp_path: Path) -> None:  # noqa: F811
    data = tmp_path / "mtddh"
    got = CliRunner().invoke(main, ["data", "download", "mtddh", "--out", str(data), "--base-url", mirror.url])
    assert got.exit_code == 0, got.output
    bench = tmp_path / "mtddh_small.yaml"
    text = (REPO_ROOT / "benchmarks" / "mtddh_small.yaml").read_text()
    bench.write_text(text.replace("root: data/mtddh", f"root: {data}").replace("folds: 5", "folds: 2"))
    done = run_cli("run", str(bench), "--dry-run", "--out", str(tmp_path / "run"), env={"HIPBENCH_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 combination(s) x 2 folds + mean_shape baseline = 8 cells, 8 to run" in done.stdout
    assert "images" in done.stdout and ": 10 images" in done.stdout
    assert "estimated training on cpu" in done.stdout and "plus the yolo detector's training" in done.stdout
    assert not (tmp_path / "run" / "cells").exists()  # nothing trained
    missing = run_cli("run", str(REPO_ROOT / "benchmarks" / "mtddh_small.yaml"), "--dry-run",
                      "--out", str(tmp_path / "r2"))
    assert missing.returncode == 2 and "root data/mtddh does not exist" in missing.stderr


TINY = """
name: weights
datasets: [{{type: synthetic_pelvis, num: 8, seed: 1, size: 128}}]
backbones: [{{type: timm, model_name: {model}{weights}}}]
heads: [direct_regression]
train: {{epochs: 1, batch_size: 8, input_size: 64, warmup_epochs: 0}}
cv: {{folds: 2}}
baseline: false
device: cpu
"""


def test_pretrained_weights_change_the_hash_and_reach_the_leaderboard(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    cache = tmp_path / "hub"
    populate_hub_cache(cache, REPO, timm.create_model(f"{REPO.split('/')[1]}").state_dict())
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    scratch = tmp_path / "scratch.yaml"
    scratch.write_text(TINY.format(model=MODEL, weights=""))
    pretrained = tmp_path / "pretrained.yaml"
    pretrained.write_text(TINY.format(model=MODEL, weights=", pretrained: true"))
    a, b = load_benchmark(scratch), load_benchmark(pretrained)
    assert cell_hash(a, a.combinations()[0], 0) != cell_hash(b, b.combinations()[0], 0)
    torch.manual_seed(0)
    done = run_cli("run", str(pretrained), "--out", str(tmp_path / "run"), "--no-progress",
                   env={"HF_HUB_CACHE": str(cache)})
    assert done.returncode == 0, done.stdout + done.stderr
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert list(board.weights) == [f"ImageNet-1k pretrained ({REPO})"]
    assert f"ImageNet-1k pretrained ({REPO})" in (tmp_path / "run" / "leaderboard_all.md").read_text()
    assert "(ImageNet-1k pretrained)" in (tmp_path / "run" / "leaderboard.md").read_text()  # compact view
    result = next((tmp_path / "run" / "cells").glob("*/fold0/result.json")).read_text()
    assert REPO in result and '"sha256"' in result


def test_an_unusable_source_label_is_excluded_so_data_check_passes(source_files: dict,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    import threading
    from http.server import ThreadingHTTPServer

    from tests.conftest import SAMPLES
    from tests.test_data_download import _Handler, _jpeg, _routes

    bad = "dataset2_5bb4943f_img"  # the source's wrong-body-part image: x coordinates above 1
    files = dict(source_files)
    files[f"data/{bad}.txt"] = (SAMPLES / "mtddh_labels" / "labels" / f"{bad}.txt").read_bytes()
    files[f"data/{bad}.jpg"] = _jpeg(96, 80, 99)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.mirror = Mirror(url, _routes(files))  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "mtddh"
        got = CliRunner().invoke(main, ["data", "download", "mtddh", "--out", str(out), "--base-url", url])
    finally:
        server.shutdown()
        server.server_close()
    assert got.exit_code == 0, got.output
    assert "1 unusable label(s) listed in exclude.txt" in got.output
    assert (out / "labels" / f"{bad}.txt").exists() and bad in (out / "exclude.txt").read_text()
    check = CliRunner().invoke(main, ["data", "check", str(out)])
    assert check.exit_code == 0, check.output  # passes: the excluded label is a warning, not an error
    assert "excluded by exclude.txt" in check.output and bad in check.output
