"""Built-in dataset plugins (DATASETS registry, entry-point group ``hipbench.datasets``).

The formats ``ihdi_csv``, ``mtddh_yolo``, ``landmark_csv`` (writable), ``coco_keypoints`` and ``av_ddh`` are
:class:`hipbench.data.formats.DatasetFormat` instances: called ``f(root=..., **kwargs)`` they load a dataset, and
they detect their layout, read single annotation files and (when writable) write annotations.
``synthetic_pelvis`` is a plain callable (a generator, no folder): a dataset, but no format.
"""
