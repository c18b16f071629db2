"""Everything the routes share, built once per app from a :class:`~hipbench.serve.config.ServeConfig`:
uploads, runs and their cases, models, and the dataset folder (or why there is none)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hipbench.serve.cases import CaseViewer
from hipbench.serve.config import ServeConfig
from hipbench.serve.models import ModelCatalog
from hipbench.serve.review import ReviewFolder
from hipbench.serve.runs import RunCatalog
from hipbench.serve.uploads import UploadStore


@dataclass
class Services:
    config: ServeConfig
    work_dir: Path
    uploads: UploadStore
    runs: RunCatalog
    cases: CaseViewer
    models: ModelCatalog
    review: ReviewFolder | None
    review_note: str

    @property
    def measure_dir(self) -> Path:
        return self.work_dir / "measure"


def build_services(config: ServeConfig, work_dir: Path) -> Services:
    """The shared state of one app; ``work_dir`` holds uploads, measurements and leaderboard records."""
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    runs = RunCatalog(config.runs, work_dir)
    review, note = None, "start the server with --data DIR to review and save annotations"
    if config.data is not None:
        review, note = ReviewFolder(config.data, config.data_format, config.schema), ""
    uploads = UploadStore(work_dir / "uploads", config.max_upload_bytes, config.max_pixels)
    return Services(config, work_dir, uploads, runs, CaseViewer(runs), ModelCatalog(runs, config.device), review, note)
