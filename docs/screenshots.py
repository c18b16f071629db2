"""Screenshots of the built documentation site, taken with headless Chromium, for the site's own home page.

    make docs && .venv/bin/python docs/screenshots.py [--site site] [--out docs/site_screenshots]

Serves the built ``site/`` on a free local port, opens each page in the system Chromium (Debian: ``apt-get
install -y chromium``; no browser is downloaded) and writes one PNG per page. ``--check`` compares the page list
with the files present and exits 1 when one is missing, without a browser.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# page of the built site -> screenshot file name
PAGES = {"index.html": "home.png", "tutorials/own-dataset.html": "tutorial_own_dataset.png"}
WINDOW = "1280,900"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no Chromium found: install it (Debian: apt-get install -y chromium)")


def shoot(site: Path, out: Path) -> None:
    if not (site / "index.html").exists():
        sys.exit(f"{site}/index.html is missing: build the site first (make docs)")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    try:
        for page, name in PAGES.items():
            url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--user-data-dir={profile}", f"--window-size={WINDOW}",
                                f"--screenshot={out / name}", url],
                               check=True, capture_output=True, timeout=120)
            print(f"{url} -> {out / name}")
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=Path("site"))
    parser.add_argument("--out", type=Path, default=Path("docs/site_screenshots"))
    parser.add_argument("--check", action="store_true", help="only check that every screenshot exists")
    args = parser.parse_args()
    if args.check:
        missing = [name for name in PAGES.values() if not (args.out / name).exists()]
        if missing:
            sys.exit(f"missing screenshots in {args.out}: {', '.join(missing)}")
        return
    shoot(args.site, args.out)


if __name__ == "__main__":
    main()
