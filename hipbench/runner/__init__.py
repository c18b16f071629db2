"""The benchmark runner: YAML grids, cells, resumable runs."""
