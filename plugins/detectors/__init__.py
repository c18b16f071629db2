"""Built-in hip detector plugins (``gt`` oracle boxes; ``yolo`` comes with the detection stage)."""
