"""The CLI and the plugin path end to end: a real pip-installed example plugin and a broken one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hipbench import __version__
from tests.conftest import REPO_ROOT, make_distribution, run_cli

EXAMPLE = REPO_ROOT / "examples" / "hipbench-example-backbone"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed by pip into a private target directory."""
    target = tmp_path_factory.mktemp("example-site")
    source = tmp_path_factory.mktemp("example-src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)  # build outside the repository, so the tree stays clean
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, timeout=300)
    return target


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"hipbench, version {__version__}"


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from click.testing import CliRunner; from hipbench.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('torch', 'timm', 'ultralytics', 'cv2', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_installed_example_plugin_is_listed_and_builds(example_site: Path) -> None:
    listing = run_cli("list", "backbones", extra_path=example_site)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:2] == ["example_tinynet", "hipbench-example-backbone"]
               for line in listing.stdout.splitlines())
    code = ("import torch; from hipbench.registry import BACKBONES; "
            "m = BACKBONES.build({'type': 'example_tinynet', 'width': 8}); "
            "feats = m(torch.zeros(2, 3, 32, 32)); "
            "print(m.out_channels, m.strides, [tuple(f.shape) for f in feats])")
    built = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                           env={**__import__('os').environ, "PYTHONPATH": str(example_site)})
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "(8, 16) (4, 8) [(2, 8, 8, 8), (2, 16, 4, 4)]"


def test_autoload_switch_hides_the_example(example_site: Path) -> None:
    listing = run_cli("list", "backbones", extra_path=example_site,
                      env={"HIPBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert listing.returncode == 0 and "example_tinynet" not in listing.stdout


def test_broken_plugin_is_reported_and_others_still_load(example_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_distribution(site, "hipbench-broken-plugin", "0.3.0",
                      {"hipbench.backbones": {"broken_net": "hipbench_broken_plugin:BrokenNet"}},
                      {"hipbench_broken_plugin": "raise RuntimeError('deliberately broken at import')\n"})
    path = Path(f"{site}{__import__('os').pathsep}{example_site}")
    check = run_cli("plugins", "--check", extra_path=path)
    assert check.returncode == 1
    assert "broken_net" in check.stdout and "failed" in check.stdout
    assert "hipbench-broken-plugin 0.3.0" in check.stderr and "deliberately broken at import" in check.stderr
    example_row = next(line for line in check.stdout.splitlines() if "example_tinynet" in line)
    assert example_row.split()[-1] == "loaded"
    listing = run_cli("list", extra_path=path)
    assert listing.returncode == 0 and "broken_net" in listing.stdout and "example_tinynet" in listing.stdout


def test_plugins_check_passes_on_a_clean_install() -> None:
    result = run_cli("plugins", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_list_all_kinds_has_a_heading_per_kind() -> None:
    result = run_cli("list")
    assert result.returncode == 0
    for kind in ("backbones", "heads", "losses", "codecs", "datasets", "metrics", "detectors"):
        assert f"{kind}:" in result.stdout


def test_list_rejects_unknown_kind() -> None:
    result = run_cli("list", "backbonez")
    assert result.returncode == 2 and "backbones" in result.stderr


def test_plugins_contracts_prints_every_kinds_contract() -> None:
    from click.testing import CliRunner

    from hipbench.cli import main
    from hipbench.registry import ALL_REGISTRIES

    result = CliRunner().invoke(main, ["plugins", "--contracts"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    for kind, registry in ALL_REGISTRIES.items():
        assert f"{kind} (entry-point group hipbench.{kind})" in result.output
        assert " ".join(registry.contract.split()) in flat, kind
    assert "hipbench.models.codec.Codec" in flat and "plugins: fpn, fpn_concat" in flat
    table = CliRunner().invoke(main, ["plugins"])
    assert table.exit_code == 0 and "hipbench plugins --contracts" in table.output
