"""Built-in keypoint head plugins."""
