"""The executors' retry rounds, kept importable here for plugins written against them; they live in core
(:mod:`hipbench.runner.rounds`), so a third-party executor imports them from ``hipbench``."""

from __future__ import annotations

from hipbench.runner.rounds import Submit, record_lost, release_lost, run_rounds, wait_for_others

__all__ = ["Submit", "record_lost", "release_lost", "run_rounds", "wait_for_others"]
