"""Built-in dataset plugins (DATASETS registry, entry-point group ``hipbench.datasets``).

Each is a callable returning a :class:`hipbench.data.dataset.KeypointDataset`: ``ihdi_csv``, ``mtddh_yolo``,
``landmark_csv``, ``coco_keypoints`` (``f(root=..., **kwargs)``) and ``synthetic_pelvis`` (no root).
"""
