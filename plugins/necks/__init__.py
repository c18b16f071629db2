"""Built-in necks: ``fpn`` (alias ``fpn_concat``), lateral 1x1 convs of several levels resized and concatenated."""
