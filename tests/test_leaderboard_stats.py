"""The leaderboard says which differences are real: CIs by patient, marks against the best row, merged runs
paired only on the same split; the HTML table sorts and toggles in a real browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hipbench.files import write_json
from hipbench.leaderboard.build import build_leaderboard
from tests.conftest import run_cli
from tests.test_statistics import dataset

N_IMAGES, FOLDS = 120, 2


def fake_run(root: Path, name: str, predictions: dict[str, np.ndarray], gt: np.ndarray,
             fold_of: np.ndarray, dataset_name: str = "phantom") -> Path:
    """A run directory as `hipbench run` writes it: results and out-of-fold predictions per cell."""
    run = root / name
    ids = np.array([f"img{i:03d}" for i in range(len(gt))])
    patients = np.array([f"pat{i // 2:03d}" for i in range(len(gt))])  # two images per patient
    write_json(run / "run.json", {"name": name, "benchmark_file": f"{name}.yaml", "machine": "test",
                                  "device": "cpu", "hipbench": "test"})
    for head, pred in predictions.items():
        key = f"{dataset_name}__resnet18__{head}"
        combo = {"dataset": {"type": dataset_name}, "backbone": {"type": "resnet18"}, "neck": None,
                 "head": {"type": head}, "loss": None}
        for fold in range(FOLDS):
            rows = fold_of == fold
            cell = run / "cells" / key / f"fold{fold}"
            cell.mkdir(parents=True)
            np.savez(cell / "predictions.npz", image_id=ids[rows], patient_id=patients[rows], pred=pred[rows],
                     gt=gt[rows], pixel_spacing=np.full(rows.sum(), np.nan), schema=np.array("mtddh8"))
            nme = float(np.mean(np.hypot(*(pred[rows] - gt[rows]).transpose(2, 0, 1))))
            write_json(cell / "result.json", {"status": "ok", "key": key, "combination": combo, "fold": fold,
                                              "metrics": {"nme": nme}, "params": 1, "train_seconds": 1.0,
                                              "n_train": 50, "n_val": 10, "n_test": int(rows.sum())})
    return run


@pytest.fixture(scope="module")
def truth() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    best, gt = dataset(N_IMAGES, rng)
    return gt, {"best": best, "twin": best.copy(), "shifted": best + [3.0, 0.0]}


def test_cis_and_marks_against_the_best_row(tmp_path: Path, truth: tuple) -> None:
    gt, predictions = truth
    run = fake_run(tmp_path, "a", predictions, gt, np.arange(N_IMAGES) % FOLDS)
    build_leaderboard(run)
    board = pd.read_csv(run / "leaderboard.csv").set_index("head")
    assert (board.nme_lo < board.pooled_nme).all() and (board.pooled_nme < board.nme_hi).all()
    assert (board.patients == N_IMAGES // 2).all()
    best_head = board.pooled_nme.idxmin()
    assert best_head in ("best", "twin") and board.loc[best_head, "best_row"]
    twin = "twin" if best_head == "best" else "best"
    assert board.loc[twin, "nme_indistinguishable"] and board.loc[twin, "nme_diff_vs_best"] == 0
    assert board.loc[twin, "nme_p_wilcoxon"] == 1.0
    assert not board.loc["shifted", "nme_indistinguishable"] and board.loc["shifted", "nme_diff_lo"] > 0
    assert board.loc["shifted", "nme_p_holm"] < 0.01
    markdown = (run / "leaderboard.md").read_text()
    assert "| ≈ |" in markdown and "| > |" in markdown and "| best |" in markdown
    assert "Dataset: phantom" in markdown and "[" in markdown
    records = pd.read_csv(next((run / "records").glob("*shifted*.csv")))
    assert len(records) == 2 * N_IMAGES and records.patient_id.nunique() == N_IMAGES // 2
    assert set(records.screening) <= {"TP", "FP", "TN", "FN", "ungradable"} and set(records.fold) == {0, 1}


def test_merged_runs_pair_only_on_the_same_split(tmp_path: Path, truth: tuple) -> None:
    gt, predictions = truth
    same = np.arange(N_IMAGES) % FOLDS
    a = fake_run(tmp_path, "a", {"best": predictions["best"]}, gt, same)
    b = fake_run(tmp_path, "b", {"shifted": predictions["shifted"]}, gt, same)
    c = fake_run(tmp_path, "c", {"twin": predictions["twin"]}, gt, (np.arange(N_IMAGES) // 7) % FOLDS)
    merged = tmp_path / "merged"
    done = run_cli("leaderboard", str(a), str(b), str(c), "--out", str(merged))
    assert done.returncode == 0, done.stderr
    board = pd.read_csv(merged / "leaderboard.csv").set_index("head")
    assert list(board.loc[["best", "shifted", "twin"], "run"]) == ["a", "b", "c"]
    assert not board.loc["shifted", "nme_indistinguishable"]  # a and b share the split: paired
    assert "not paired" in board.loc["twin", "unpaired"] and "split" in board.loc["twin", "unpaired"]
    assert "not paired" in (merged / "leaderboard.md").read_text()
    assert run_cli("leaderboard", str(a), str(b)).returncode == 2  # merging needs --out


def test_three_datasets_give_average_ranks_friedman_and_a_cd_diagram(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    runs = []
    for d in ("alpha", "beta", "gamma"):
        best, gt = dataset(40, rng)
        heads = {f"h{i}": best + [float(i), 0.0] for i in range(4)}  # h0 best on every dataset, then h1, ...
        runs.append(fake_run(tmp_path, d, heads, gt, np.arange(40) % FOLDS, dataset_name=d))
    merged = tmp_path / "merged"
    build_leaderboard(runs, out=merged)
    markdown = (merged / "leaderboard.md").read_text()
    assert "## Across datasets" in markdown and "Friedman test p = 0.0293" in markdown
    assert "critical difference (alpha 0.05) = 2.71 ranks" in markdown
    ranked = [line.split(" | ")[0].strip("| ") for line in markdown.splitlines() if line.startswith("| resnet18 / h")]
    assert ranked == [f"resnet18 / h{i} (gt)" for i in range(4)]
    assert (merged / "plots" / "critical_difference.png").stat().st_size > 10_000


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.browser
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver; .ci/run installs them)")
def test_html_sorts_and_toggles_in_a_real_browser(tmp_path: Path, truth: tuple) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    gt, predictions = truth
    run = fake_run(tmp_path, "a", predictions, gt, np.arange(N_IMAGES) % FOLDS)
    build_leaderboard(run)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,900",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((run / "leaderboard.html").as_uri())
        headers = driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")
        names = [h.get_attribute("textContent") for h in headers]
        nme = names.index("NME % [95% CI]")

        def column(i: int) -> list[str]:
            return [r.find_elements(By.TAG_NAME, "td")[i].text
                    for r in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")]

        headers[nme].click()
        ascending = [float(v.split()[0]) for v in column(nme)]
        assert ascending == sorted(ascending)
        headers[nme].click()
        assert [float(v.split()[0]) for v in column(nme)] == sorted(ascending, reverse=True)
        cost = names.index("infer ms/img")
        assert not headers[cost].is_displayed()
        driver.find_element(By.CSS_SELECTOR, "input[value='cost']").click()
        assert headers[cost].is_displayed()
        cell = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")[0].find_elements(By.TAG_NAME, "td")[nme]
        assert "95 % CI by patient" in cell.get_attribute("title")
        driver.find_element(By.CSS_SELECTOR, "input[value='cost']").click()
        shot = os.environ.get("HIPBENCH_SCREENSHOT")
        if shot:
            driver.save_screenshot(shot)
    finally:
        driver.quit()


def test_export_keeps_predictions_not_weights_and_rebuilds_identically(tmp_path: Path, truth: tuple) -> None:
    gt, predictions = truth
    run = fake_run(tmp_path, "a", predictions, gt, np.arange(N_IMAGES) % FOLDS)
    (run / "cells" / "phantom__resnet18__best" / "fold0" / "model.pt").write_bytes(b"weights")
    build_leaderboard(run)
    done = run_cli("leaderboard", str(run), "--export", str(tmp_path / "committed"))
    assert done.returncode == 0, done.stderr
    committed = tmp_path / "committed"
    assert not list(committed.rglob("model.pt")) and list(committed.rglob("predictions.npz"))
    shutil.rmtree(run)  # the original run is gone: the export alone rebuilds the same table
    before = pd.read_csv(committed / "leaderboard.csv")
    assert run_cli("leaderboard", str(committed)).returncode == 0
    pd.testing.assert_frame_equal(pd.read_csv(committed / "leaderboard.csv"), before)
