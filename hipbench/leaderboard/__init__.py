"""Leaderboards rebuilt from stored cell results: Markdown, CSV, HTML and per-combination plots."""
