"""hipbench: benchmarking toolkit for hip X-ray keypoint detection in developmental dysplasia of the hip.

Importing the package is cheap: torch, timm and ultralytics load only where they are used.

Examples:
    >>> import hipbench
    >>> isinstance(hipbench.__version__, str)
    True
"""

__version__ = "0.1.0"
