"""``hipbench serve`` in Debian's Chromium (Selenium, the system browser and its chromedriver; nothing is
downloaded): start the server on a free local port, upload a Jordan DICOM, see the overlay and its AI
values, review it, place and drag landmarks, save (and overwrite after confirming), read the annotation
back from the dataset folder. With ``HIPBENCH_SCREENSHOTS=DIR`` it also saves a screenshot of each view."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, SAMPLES, run_cli

DICOM = SAMPLES / "jordan_xray" / "dicoms" / "331_DDH_10.dcm"  # CC BY 4.0, Fraiwan et al. 2022 (see README)
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
BENCH = """
name: browsed
datasets: [{type: synthetic_pelvis, num: 16, size: 96}]
framings: [{type: bilateral_crops}, {type: whole_image, input_size: 64}]
backbones: [resnet18]
heads: [heatmap]
train: {epochs: 1, batch_size: 8, input_size: 48}
cv: {folds: 2}
device: cpu
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver "
                       "(apt-get install -y chromium chromium-driver; .ci/run installs them)"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``hipbench serve RUN --data DATA`` on a free port (a tiny phantom run, an ``ihdi_csv`` folder)."""
    pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
    from hipbench.data.synth import write_synthetic

    root = tmp_path_factory.mktemp("browsed")
    (root / "bench.yaml").write_text(BENCH)
    done = run_cli("run", str(root / "bench.yaml"), "--out", str(root / "run"), "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    data = write_synthetic(root / "data", num=2, seed=3, size=96, preview_count=1).root
    port = free_port()
    log = open(root / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "hipbench", "serve", str(root / "run"), "--data", str(data),
                                "--port", str(port), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT,
                               cwd=REPO_ROOT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/info", timeout=2)
                break
            except OSError:
                assert process.poll() is None, (root / "server.log").read_text()
                time.sleep(0.25)
        yield {"url": url, "data": data, "root": root}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1500,1000",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def canvas_offset(driver: Any, point: list[float]) -> tuple[int, int]:
    """Selenium's offset (from the canvas centre) of an image point on the review canvas."""
    box = driver.execute_script("const r = document.getElementById('review-canvas').getBoundingClientRect();"
                                "return [r.width, r.height, Review.scale()];")
    width, height, scale = box
    return round(point[0] * scale - width / 2), round(point[1] * scale - height / 2)


def test_measure_review_drag_save_and_read_back(server: dict[str, Any], driver: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from hipbench.data.annotations import read_ihdi_csv
    from hipbench.data.check import check_dataset
    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    shots = os.environ.get("HIPBENCH_SCREENSHOTS")
    wait = WebDriverWait(driver, 120)
    driver.get(f"{server['url']}/#measure")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    if shots:
        driver.find_element(By.CSS_SELECTOR, "nav a[data-view=runs]").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr"))
        driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")[1].click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#case-list tbody tr"))
        driver.save_screenshot(str(Path(shots) / "runs.png"))
        driver.find_element(By.CSS_SELECTOR, "nav a[data-view=measure]").click()

    # Measure: upload the DICOM, the overlay and its AI values appear, the JSON matches them
    driver.find_element(By.ID, "measure-file").send_keys(str(DICOM))
    status = driver.find_element(By.ID, "measure-status")
    wait.until(lambda d: "measured" in status.text or "error" in status.text.lower())
    assert "measured" in status.text, status.text
    overlay = driver.find_element(By.ID, "measure-overlay")
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", overlay) == 331)
    shown = {cell.get_attribute("data-side"): cell.text
             for cell in driver.find_elements(By.CSS_SELECTOR, "#measure-table td[data-measure=ai]")}
    link = driver.find_element(By.ID, "measure-json").get_attribute("href")
    payload = json.loads(urllib.request.urlopen(link).read())
    for side, value in payload["acetabular_index_deg"].items():
        assert shown[side] == ("–" if value is None else f"{value:.1f} deg"), (side, shown)
    if shots:
        driver.save_screenshot(str(Path(shots) / "measure.png"))

    # Review: the measurement's landmarks, then from empty: place all 12, drag one, save, read it back
    driver.find_element(By.ID, "measure-review").click()
    wait.until(lambda d: d.execute_script("return Review.state && Review.state.origin") == "model")
    assert all(p is not None for p in driver.execute_script("return Review.state.points"))
    driver.find_element(By.ID, "review-from-empty").click()
    assert driver.execute_script("return Review.state.points.every(p => p === null)")
    canvas = driver.find_element(By.ID, "review-canvas")
    truth = synthetic_pelvis(num=1, seed=3, size=96)[0].keypoints * 331 / 96  # a plausible layout
    for point in truth:
        ActionChains(driver).move_to_element_with_offset(canvas, *canvas_offset(driver, point)).click().perform()
    placed = np.array(driver.execute_script("return Review.state.points"), dtype=float)
    scale = driver.execute_script("return Review.scale()")
    assert np.abs(placed - truth).max() <= 1.5 / scale + 0.5
    start = canvas_offset(driver, placed[0])
    ActionChains(driver).move_to_element_with_offset(canvas, *start).click_and_hold().move_by_offset(30, 15) \
        .release().perform()
    dragged = np.array(driver.execute_script("return Review.state.points"), dtype=float)
    assert np.allclose(dragged[0] - placed[0], [30 / scale, 15 / scale], atol=1.5 / scale)
    assert np.array_equal(dragged[1:], placed[1:])
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#review-measures td[data-measure=ai]"))
    name = driver.find_element(By.ID, "review-save-as")
    name.clear()
    name.send_keys("jordan_browser")
    driver.find_element(By.ID, "review-save").click()
    review_status = driver.find_element(By.ID, "review-status")
    wait.until(lambda d: "saved" in review_status.text or "error" in review_status.text.lower())
    assert "saved annotations/jordan_browser.csv (create" in review_status.text, review_status.text
    data = server["data"]
    assert np.allclose(read_ihdi_csv(data / "annotations" / "jordan_browser.csv"), dragged, atol=1e-3)
    assert (data / "images" / "jordan_browser.dcm").is_file()
    if shots:
        driver.save_screenshot(str(Path(shots) / "review.png"))

    # a second save asks before overwriting; accepting it overwrites, and the audit log has both
    ActionChains(driver).move_to_element_with_offset(canvas, *canvas_offset(driver, dragged[5])).click_and_hold() \
        .move_by_offset(-12, 9).release().perform()
    moved = np.array(driver.execute_script("return Review.state.points"), dtype=float)
    driver.find_element(By.ID, "review-save").click()
    alert = wait.until(expected_conditions.alert_is_present())
    assert "already has an annotation" in alert.text
    alert.accept()
    wait.until(lambda d: "(overwrite" in review_status.text)
    assert np.allclose(read_ihdi_csv(data / "annotations" / "jordan_browser.csv"), moved, atol=1e-3)
    audit = [json.loads(line) for line in (data / "annotation_audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in audit] == ["create", "overwrite"]
    sixth = driver.execute_script("return Review.state.schema.names[5]")
    assert [c["landmark"] for c in audit[1]["changes"]] == [sixth]
    assert check_dataset(data).ok, check_dataset(data).text()
    # no script error and no CSP violation; the one 409 is the save that asked before overwriting
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
              and not (entry["source"] == "network" and "409 (Conflict)" in entry["message"])]
    assert errors == [], errors
