"""Training curves through mmengine's visualisation backends.

Every trained cell writes its training loss, validation NME and learning rate per epoch (step = epoch) to a
``LocalVisBackend`` (``RUN/cells/<key>/fold<i>/vis/scalars.json``, always), to TensorBoard event files in the
same folder with ``tracking: [tensorboard]``, and to an MLflow run with ``tracking: [mlflow]`` (a local file
store in ``RUN/mlruns`` unless ``{type: mlflow, tracking_uri: URI}``; experiment = benchmark name, run name =
``<key> fold<i>``). Trackers only watch: ``tracking:`` is not part of any cell's hash.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol, Sequence

from hipbench.training.hooks import TrainerHook

if TYPE_CHECKING:
    from mmengine.visualization.vis_backend import BaseVisBackend

# tracker name -> (module it imports, hipbench extra that installs it)
TRACKERS: dict[str, tuple[str, str]] = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}
SETTINGS: dict[str, tuple[str, ...]] = {"tensorboard": (), "mlflow": ("tracking_uri",)}
SCALARS = ("train_loss", "val_nme", "lr")
VIS_DIR, MLFLOW_DIR = "vis", "mlruns"


class TrackerSpec(Protocol):
    """One entry of a benchmark's ``tracking:`` (a ``hipbench.runner.config.Component``): name and settings."""

    @property
    def type(self) -> str: ...

    @property
    def kwargs(self) -> dict[str, Any]: ...


def check_tracker(name: str, settings: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for an unknown tracker or setting, ``MissingExtra`` (the pip command) when the
    tracker's package is not installed.

    Examples:
        >>> check_tracker("wandb", {})
        Traceback (most recent call last):
        ...
        ValueError: unknown tracker 'wandb'; known: tensorboard, mlflow
    """
    from hipbench.extras import require_extra

    if name not in TRACKERS:
        raise ValueError(f"unknown tracker {name!r}; known: {', '.join(TRACKERS)}")
    unknown = sorted(set(settings) - set(SETTINGS[name]))
    if unknown:
        raise ValueError(f"{name} has no setting {unknown[0]!r}; known: {', '.join(SETTINGS[name]) or 'none'}")
    require_extra(*TRACKERS[name])


class CellTracker(TrainerHook):
    """The backends of one cell, a trainer hook: at each epoch's end it writes the epoch's scalars to each;
    closing (or leaving the ``with`` block) flushes and closes them, marking an MLflow run FAILED when the
    block raised."""

    def __init__(self, backends: Sequence[BaseVisBackend]) -> None:
        self.backends = list(backends)

    def on_epoch_end(self, epoch: int, record: Mapping[str, float]) -> None:
        scalars = {name: float(record[name]) for name in SCALARS}
        for backend in self.backends:
            backend.add_scalars(scalars, step=epoch)

    def close(self, failed: bool = False) -> None:
        from mmengine.visualization import MLflowVisBackend

        for backend in self.backends:
            run = backend.experiment.active_run() if failed and isinstance(backend, MLflowVisBackend) else None
            backend.close()
            if run is not None:
                backend.experiment.MlflowClient().set_terminated(run.info.run_id, "FAILED")

    def __enter__(self) -> CellTracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(failed=exc_type is not None)


def open_tracker(trackers: Sequence[TrackerSpec], cell_dir: Path, experiment: str, key: str, fold: int,
                 config: Mapping[str, Any]) -> CellTracker:
    """The backends of the cell in ``cell_dir`` (``RUN/cells/<key>/fold<i>``), each given ``config``: the local
    one, then one per entry of ``trackers``. A cell that runs again starts its curves afresh."""
    from mmengine.config import Config
    from mmengine.visualization import LocalVisBackend, TensorboardVisBackend

    vis, store = cell_dir / VIS_DIR, cell_dir.parents[2] / MLFLOW_DIR
    shutil.rmtree(vis, ignore_errors=True)
    backends: list[BaseVisBackend] = [LocalVisBackend(str(vis))]
    for spec in trackers:
        check_tracker(spec.type, spec.kwargs)  # a worker without the extra fails with the pip command
        if spec.type == "tensorboard":
            backends.append(TensorboardVisBackend(str(vis)))
        else:
            backends.append(_mlflow_backend(spec.kwargs, store, experiment, key, fold))
    # MLflowVisBackend's close() uploads the .json/.log/.py files under work_dir as the run's artifacts
    cfg = Config({**config, "work_dir": str(cell_dir)})
    tracker = CellTracker(backends)
    with _locked(store if any(spec.type == "mlflow" for spec in trackers) else None):
        for backend in backends:
            backend.add_config(cfg)
    return tracker


def _mlflow_backend(settings: Mapping[str, Any], store: Path, experiment: str, key: str, fold: int
                    ) -> BaseVisBackend:
    from mmengine.visualization import MLflowVisBackend

    uri = settings.get("tracking_uri")
    if uri is None:
        # MLflow 3 refuses its file store unless asked; it needs no database or server, nothing leaves the machine
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MLflowVisBackend(str(store), exp_name=experiment, run_name=f"{key} fold{fold}", tracking_uri=uri,
                            tags={"hipbench.cell": key, "hipbench.fold": str(fold)})


@contextmanager
def _locked(folder: Path | None) -> Iterator[None]:
    """Hold an exclusive lock in ``folder`` (None: no lock): workers of one run starting cells together would
    otherwise each create the MLflow experiment (the backend creates it on first use when it is missing)."""
    if folder is None:
        yield
        return
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".hipbench.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
