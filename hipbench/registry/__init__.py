"""The registries of hipbench: the only place they are defined.

Each registry is a root mmengine ``Registry`` with ``scope='hipbench'``, fed by the entry-point
group ``hipbench.<kind>`` (entry-point name = registry key). Built-ins register through the same
entry points, declared in ``setup.cfg``, as third-party plugins do.

Examples:
    >>> from hipbench.registry import BACKBONES
    >>> BACKBONES.group
    'hipbench.backbones'
"""

from __future__ import annotations

from hipbench.registry.loader import (
    DISABLE_AUTOLOAD_ENV,
    PluginConflictError,
    PluginEntry,
    PluginError,
    PluginLoadError,
    PluginRegistry,
    UnknownPluginError,
    iter_entries,
)

BACKBONES = PluginRegistry(
    "backbones",
    contract=(
        "Backbones: callables ``f(**kwargs) -> hipbench.models.Backbone``, an ``nn.Module`` whose "
        "``forward(images: Tensor[B, 3, H, W])`` returns a tuple of feature maps and which declares "
        "``out_channels`` and ``strides`` (one per map, same order). No device calls inside."
    ),
)
HEADS = PluginRegistry(
    "heads",
    contract=(
        "Keypoint heads: classes ``f(in_channels, in_strides, num_keypoints, input_size, **kwargs)`` "
        "(usually subclasses of ``hipbench.models.keypoint_model.KeypointHead``) returning an ``nn.Module`` "
        "whose ``forward(features)`` consumes the backbone's (or neck's) feature tuple. The head owns a codec "
        "(``head.codec``, built from the CODECS registry) and has ``loss(outputs, targets, visible, loss_fn) "
        "-> Tensor`` and ``decode(outputs) -> Tensor[B, K, 2]`` (input pixels). The class declares "
        "``output_kind``, ``compatible_losses: tuple[str, ...]`` and ``default_loss: str``, readable "
        "without building it; optionally ``peak(outputs) -> Tensor[B, K] | None`` (map height at the decoded "
        "points, for the collapse check) and ``revision: int`` (bumped when a default that changes results "
        "changes; hashed into cells)."
    ),
)
LOSSES = PluginRegistry(
    "losses",
    contract=(
        "Losses: callables ``f(**kwargs)`` returning an ``nn.Module`` called as "
        "``loss(prediction, target, weight)`` that returns a scalar tensor (usually subclasses of "
        "``hipbench.models.loss.KeypointLoss``, which reduces per keypoint by visibility). A loss class may declare "
        "``revision: int`` (bumped when a default that changes results changes; hashed into cells)."
    ),
)
NECKS = PluginRegistry(
    "necks",
    contract=(
        "Necks (optional, between backbone and head): callables ``f(in_channels, in_strides, **kwargs)`` "
        "(usually subclasses of ``hipbench.models.neck.Neck``) returning an ``nn.Module`` whose "
        "``forward(features)`` maps the backbone's feature tuple to a new one and which declares "
        "``out_channels`` and ``strides`` (one per returned map), as a backbone does."
    ),
)
CODECS = PluginRegistry(
    "codecs",
    contract=(
        "Codecs: callables ``f(input_size, **kwargs)`` returning a ``hipbench.models.codec.Codec``: "
        "``encode(keypoints, visible) -> targets`` and ``decode(outputs) -> keypoints`` (pixels of the "
        "model input), the training-progress hook ``set_progress(fraction)`` (0 to 1, once per epoch; "
        "a no-op unless the targets change over training), and ``uncertainty(outputs) -> Tensor[B, K] | None`` "
        "(radial standard deviation of each decoded keypoint in input pixels; None: the codec cannot say), "
        "and ``peak(outputs) -> Tensor[B, K] | None`` (map height at the decoded points, 1 = a target's "
        "peak; None for outputs that are not maps). A codec class may declare ``revision: int``."
    ),
)
DATASETS = PluginRegistry(
    "datasets",
    contract=(
        "Datasets: callables ``f(**kwargs)`` returning a sequence of ``hipbench.data.sample.Sample``, each "
        "with the image, keypoints (K x 2 float pixels) in a declared landmark schema, visibility, "
        "LeftHip/RightHip boxes and metadata (id, patient id, image size, pixel spacing in mm when known; "
        "``meta['synthetic']`` true for generated images, which ``hipbench predict`` warns about). A factory may "
        "offer ``data_identity(**kwargs) -> str | None``: what its arguments do not say about the pixels (a "
        "generator's version); runs hash it with the arguments, so no cell is reused across a change. A plugin "
        "that reads a folder is a *format*: an instance of ``hipbench.data.formats.DatasetFormat`` (called as "
        "``f(root=..., **kwargs)``) that also scores ``detect(root)``, reads one annotation file "
        "(``read_file``, for ``measure``) and, when ``writable``, gives the web app an ``AnnotationStore``."
    ),
)
METRICS = PluginRegistry(
    "metrics",
    contract=(
        "Metrics: callables ``f(**kwargs)`` returning a ``hipbench.metrics.metric.Metric`` whose "
        "``figures(inputs) -> dict`` gives named figures from one ``MetricInputs`` (the same module): "
        "predicted and ground-truth (N, K, 2) full-image keypoints, the landmark schema, the evaluation's "
        "normaliser with its per-image length, per-point errors, the pixel spacing (when every image has one) "
        "and the image sizes. The class declares ``per``: ``image``, ``hip`` or ``landmark`` for figures that "
        "are means of per-item values, which ``values(inputs) -> dict[str, ndarray]`` returns ((N,), (N, 2) "
        "or (N, K); NaN = not scored) for the patient bootstrap and the pairing with the best row, or "
        "``pooled`` for a figure of the whole set; and ``headline``, ``title``, ``higher_is_better``, "
        "``digits`` for its leaderboard column. A benchmark selects metrics with ``metrics:``."
    ),
)
DETECTORS = PluginRegistry(
    "detectors",
    contract=(
        "Hip detectors: subclasses of ``hipbench.pipeline.detector.HipDetector`` (registered as the class), "
        "built with ``f(**kwargs)``, fitted per dataset and fold, that predict LeftHip/RightHip boxes "
        "(full-image pixels) for each image. Class-level ``needs_labels`` (boxes read from the labels, so "
        "it cannot run on new images), ``checkpoint_suffixes`` (the weights files it loads) and "
        "``from_checkpoint(path, device, **kwargs)`` (restore a trained one for ``hipbench predict``)."
    ),
)
MEASURES = PluginRegistry(
    "measures",
    contract=(
        "Measures: subclasses of ``hipbench.measures.Measure`` (registered as the class) computing one value "
        "per hip from full-image landmarks through their roles: class-level ``name``, ``kind`` (continuous "
        "or graded), ``unit``, ``grades``, ``roles`` and ``unsupported(schema)`` are read before building; "
        "``compute(points, schema) -> MeasureValues`` (values and ungradable reasons per hip); agreement "
        "figures follow the kind (``hipbench.metrics.measure_figures``) unless the class's "
        "``agreement(*, pred, gt)`` returns its own (the default returns None)."
    ),
)
FRAMINGS = PluginRegistry(
    "framings",
    contract=(
        "Framings: subclasses of ``hipbench.pipeline.framing.Framing`` (registered as the class) that turn "
        "samples into the model's views (a ``ViewSet``: images, exact full-image -> view affines, the schema "
        "index of each view keypoint). Class-level ``unsupported(schema)`` and ``suitability(schema)`` are "
        "read before anything is built; ``from_train(train, **kwargs)`` builds one with the benchmark's "
        "``train`` settings as defaults; ``uses_detector`` says whether test views come from detector boxes."
    ),
)
EXECUTORS = PluginRegistry(
    "executors",
    contract=(
        "Executors: callables ``f(max_retries=2, **settings)`` returning a ``hipbench.runner.executor.Executor`` "
        "whose ``run(tasks)`` has every ``CellTask`` executed (``hipbench.runner.tasks.execute_task``, in any "
        "process on any machine that sees the run directory) and returns when each has a result; tasks "
        "whose worker was lost are resubmitted up to ``max_retries`` times (an engine-backed executor can hand "
        "its submit to ``hipbench.runner.rounds.run_rounds``). Settings come from the "
        "benchmark's ``executor:`` block and the CLI; the executor never changes a cell's result."
    ),
    aliases={"submitit": "slurm"},  # the Slurm executor's name before issue #25 part 6
)
ALL_REGISTRIES: dict[str, PluginRegistry] = {
    registry.kind: registry
    for registry in (BACKBONES, NECKS, HEADS, LOSSES, CODECS, DATASETS, METRICS, MEASURES, DETECTORS, FRAMINGS,
                     EXECUTORS)
}

__all__ = [
    "ALL_REGISTRIES",
    "BACKBONES",
    "CODECS",
    "DATASETS",
    "DETECTORS",
    "EXECUTORS",
    "FRAMINGS",
    "DISABLE_AUTOLOAD_ENV",
    "HEADS",
    "LOSSES",
    "MEASURES",
    "METRICS",
    "NECKS",
    "PluginConflictError",
    "PluginEntry",
    "PluginError",
    "PluginLoadError",
    "PluginRegistry",
    "UnknownPluginError",
    "iter_entries",
]
