"""Built-in framings: ``bilateral_crops`` (detector boxes, one crop per hip) and ``whole_image``."""
