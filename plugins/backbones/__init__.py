"""Built-in backbone plugins: the timm adapter and named presets."""
