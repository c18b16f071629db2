"""A worker process: ``python -m hipbench.runner.worker TASKS.pkl`` runs the cooperative loop over the
pickled cell tasks (used by the ``local`` executor; each worker pinned by its environment)."""

from __future__ import annotations

import pickle
import signal
import sys
from pathlib import Path

from hipbench.runner.tasks import work


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m hipbench.runner.worker TASKS.pkl", file=sys.stderr)
        return 2
    # terminated (the run stopped): leave through SystemExit, so the claim held right now is released
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tasks = pickle.loads(Path(argv[0]).read_bytes())
    work(tasks, poll_s=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
