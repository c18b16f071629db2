"""``hipbench data download``: fetch a registered dataset (:mod:`hipbench.data.sources`), verify every file,
and lay it out so ``hipbench data check`` and the ``mtddh_yolo`` plugin read it (``images/``, ``labels/``).

URLs used for ``mtddh`` (GitHub repository ``radoss-org/open-hip-dysplasia``, folder ``mtddh_xray_2d/``):

- ``https://api.github.com/repos/radoss-org/open-hip-dysplasia/commits/main`` and ``.../git/trees/<sha>``
  (``?recursive=1`` for the folder): the file list, with size and git blob SHA-1 per file;
- ``https://raw.githubusercontent.com/radoss-org/open-hip-dysplasia/<commit>/mtddh_xray_2d/<path>``: the files;
  ``https://media.githubusercontent.com/media/radoss-org/open-hip-dysplasia/<commit>/mtddh_xray_2d/<path>`` for a
  file the repository keeps in Git LFS (its pointer gives the SHA-256 and size).

They were read from the public repository's index; the machine this was written on has no internet access, so
they were never tried live. Everything else is tested against a local server with the same API shapes.

Steps:

1. The file list is fetched once and saved as ``DIR/.hipbench/download.json`` (commit, path, size, checksum);
   reruns reuse it, so they resume the same snapshot. Delete that file to list the source again.
2. Each missing file is streamed to ``DIR/<path>.part``, ``jobs`` files at a time over one keep-alive session
   per host (:mod:`hipbench.data.http_session`; ``$GITHUB_TOKEN`` goes to the API and raw hosts only). An
   existing ``.part`` continues with an HTTP Range request; a server that answers 200 instead of 206 restarts
   that file. Network errors are retried (``retries``), each retry resuming from the ``.part``. Rate-limit
   replies are waited out as announced, without using up ``retries``; one asking for more than ``max_wait_s``
   stops the run with :class:`~hipbench.data.fetcher.RateLimited` ("rate-limited: rerun resumes"); see
   :mod:`hipbench.data.fetcher`.
3. Size and checksum are verified, then the file is renamed into place atomically. Files already present and
   verified are skipped, so rerunning after a kill resumes. A checksum mismatch is reported (path, expected,
   actual) and the file fetched once more; a second mismatch ends in :class:`IntegrityError`.
4. Afterwards every label is parsed, ``dataset_splits.json`` (the official split, kept as is) summarised, and
   ``LICENSE.txt`` and ``ATTRIBUTION.md`` written beside the data. A measure-table source (``av_ddh``) is read
   instead with every unreadable cell, row without an image and image without a row listed by its row number
   (:mod:`hipbench.data.measure_stats`).

Offline rule: under ``HIPBENCH_OFFLINE=1`` no connection is opened. Files present and verified are fine; a
missing file list or file raises :class:`~hipbench.offline.DownloadForbidden` naming the file and where to put
it. The one exception is a base URL override (``base_url`` / ``--base-url`` or ``$HIPBENCH_MTDDH_URL``,
``$HIPBENCH_AV_DDH_URL``: the source's ``url_env``) whose
host is loopback (127.0.0.0/8, ``localhost``, ``::1``): it is used even offline, without any proxy, and a
redirect off the machine is refused. A mirror serves ``URL/api/repos/...``, ``URL/raw/<owner>/<repo>/<commit>/...``
and ``URL/media/...`` in GitHub's shapes; that is how the tests run.

Examples:
    >>> git_blob_sha1(b"hello\\n")
    'ce013625030ba8dba906f756967f9e9ca394464a'
    >>> is_loopback("http://127.0.0.1:8000/x"), is_loopback("https://api.github.com")
    (True, False)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

from hipbench import __version__
from hipbench.data.fetcher import DEFAULT_MAX_WAIT_S, DownloadError, Fetcher, RateLimited
from hipbench.data.http_session import Sessions, github_token, is_loopback
from hipbench.data.measure_stats import MeasureTableSummary, summarise_table
from hipbench.data.rate_limits import Clock, GateClosed
from hipbench.data.source_summary import DatasetSummary, summarise
from hipbench.data.sources import DataSource, get_source, target_path
from hipbench.offline import forbid_download, offline_requested

STATE_DIR = ".hipbench"
MANIFEST_NAME = "download.json"
USER_AGENT = f"hipbench/{__version__}"
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
DEFAULT_JOBS = 4
Log = Callable[[str], None]


class IntegrityError(DownloadError):
    """Files that failed verification twice; ``failures`` holds one line per file (path, expected, actual)."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} file(s) failed verification twice (each was downloaded again once):\n"
                         + "\n".join(f"  {f}" for f in failures))


# checksums ---------------------------------------------------------------------------------------
def git_blob_sha1(data: bytes) -> str:
    """The git blob SHA-1 of ``data`` (what GitHub's trees API lists per file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of the file at ``path``: ``git-sha1`` (blob header included), or any :mod:`hashlib` name.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a"; _ = p.write_bytes(b"hello\\n")
        >>> file_digest(p, "git-sha1") == git_blob_sha1(b"hello\\n"), file_digest(p, "md5")[:8]
        (True, 'b1946ac9')
    """
    if algorithm == "git-sha1":
        hasher = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    else:
        hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


# file list ---------------------------------------------------------------------------------------
@dataclass
class Entry:
    """One file: ``source_path`` (relative to the source folder), local ``path`` (relative to the output
    directory), ``size`` in bytes, ``digest`` as ``algorithm:hex``; ``lfs`` when it is fetched as a Git LFS object.

    Examples:
        >>> Entry("data/a.txt", "labels/a.txt", 6, "git-sha1:ce01").algorithm
        'git-sha1'
    """

    source_path: str
    path: str
    size: int
    digest: str
    lfs: bool = False

    @property
    def algorithm(self) -> str:
        return self.digest.split(":", 1)[0]

    @property
    def expected(self) -> str:
        return self.digest.split(":", 1)[1]


@dataclass
class Manifest:
    """The saved file list of one download: source name, ``commit`` listed, when, from where, and the entries.

    Examples:
        >>> m = Manifest("mtddh", "abc", "2025-01-01T00:00:00Z", "http://x", [Entry("a", "a", 1, "md5:0")])
        >>> Manifest.from_json(m.to_json()) == m
        True
    """

    source: str
    commit: str
    listed_at: str
    listing_url: str
    entries: list[Entry] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        data = json.loads(text)
        return cls(**{**data, "entries": [Entry(**e) for e in data["entries"]]})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)


# where to connect --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoints:
    """Base URLs for the API, raw files and LFS objects; ``mirror`` is the override they came from, if any.

    Examples:
        >>> e = Endpoints.for_source(get_source("mtddh"), "http://127.0.0.1:9/")
        >>> e.api, e.raw, e.loopback
        ('http://127.0.0.1:9/api', 'http://127.0.0.1:9/raw', True)
    """

    api: str
    raw: str
    lfs: str
    mirror: str | None = None

    @property
    def loopback(self) -> bool:
        return self.mirror is not None and is_loopback(self.mirror)

    @classmethod
    def for_source(cls, source: DataSource, base_url: str | None = None) -> "Endpoints":
        """The source's own URLs, or ``base_url`` (else ``$<source.url_env>``) with ``/api``, ``/raw``, ``/media``."""
        base = base_url or os.environ.get(source.url_env) or None
        if base is None:
            loc = source.location
            return cls(loc.api_url, loc.raw_url, loc.lfs_url)
        if urlsplit(base).scheme not in ("http", "https"):
            raise ValueError(f"base URL {base!r} must start with http:// or https://")
        base = base.rstrip("/")
        return cls(f"{base}/api", f"{base}/raw", f"{base}/media", base)

    def file_url(self, source: DataSource, commit: str, entry: Entry) -> str:
        loc = source.location
        root = self.lfs if entry.lfs else self.raw
        return f"{root}/{loc.owner}/{loc.repo}/{commit}/{quote(f'{loc.folder}/{entry.source_path}')}"

    def commit_url(self, source: DataSource) -> str:
        loc = source.location
        return f"{self.api}/repos/{loc.owner}/{loc.repo}/commits/{quote(loc.ref)}"


def list_github(fetcher: Fetcher, source: DataSource, endpoints: Endpoints) -> Manifest:
    """The source folder's files at the current commit of its ref, as a :class:`Manifest` (GitHub trees API)."""
    loc = source.location
    repo_api = f"{endpoints.api}/repos/{loc.owner}/{loc.repo}"
    url = endpoints.commit_url(source)
    try:
        commit = fetcher.json(url)
        sha, tree_sha = commit["sha"], commit["commit"]["tree"]["sha"]
        for segment in loc.folder.split("/"):
            tree = fetcher.json(f"{repo_api}/git/trees/{tree_sha}")
            tree_sha = next(e["sha"] for e in tree["tree"] if e["path"] == segment and e["type"] == "tree")
        listing = fetcher.json(f"{repo_api}/git/trees/{tree_sha}?recursive=1")
        items = listing["tree"]
    except StopIteration:
        raise DownloadError(f"{loc.web_url}: folder {loc.folder!r} not found at commit {sha}") from None
    except (KeyError, TypeError) as exc:
        raise DownloadError(f"{url}: unexpected reply from the listing API (missing {exc})") from None
    if listing.get("truncated"):
        raise DownloadError(f"{loc.web_url}: the listing API truncated the file list; cannot verify every file")
    entries = []
    for item in items:
        target = target_path(source, item.get("path", "")) if item.get("type") == "blob" else None
        if target is not None:
            entries.append(Entry(item["path"], target, int(item["size"]), f"git-sha1:{item['sha']}"))
    if not entries:
        raise DownloadError(f"{loc.web_url} at commit {sha}: no file matches the expected layout "
                            f"({', '.join(r.pattern for r in source.layout)})")
    listed_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Manifest(source.name, sha, listed_at, url, entries)


def _lfs_pointer(path: Path) -> tuple[str, int] | None:
    """(sha256, size) when ``path`` is a Git LFS pointer file, else None."""
    if path.stat().st_size > 1024:
        return None
    data = path.read_bytes()
    if not data.startswith(LFS_POINTER):
        return None
    fields = dict(line.split(" ", 1) for line in data.decode("ascii", "replace").splitlines() if " " in line)
    oid, size = fields.get("oid", ""), fields.get("size", "")
    if not oid.startswith("sha256:") or not size.strip().isdigit():
        raise DownloadError(f"{path}: malformed Git LFS pointer")
    return oid[len("sha256:"):].strip(), int(size)


def verify(path: Path, entry: Entry) -> str | None:
    """None when ``path`` has the entry's size and checksum, else what it has instead."""
    size = path.stat().st_size
    actual = file_digest(path, entry.algorithm)
    if size == entry.size and actual == entry.expected:
        return None
    return f"{entry.algorithm}:{actual} ({size} bytes)"


# the whole run -----------------------------------------------------------------------------------
def write_notices(root: Path, source: DataSource, manifest: Manifest, endpoints: Endpoints) -> list[Path]:
    """``LICENSE.txt`` and ``ATTRIBUTION.md`` beside the data: licence, attribution, DOI, source, date."""
    loc = source.location
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    tree_url = f"https://github.com/{loc.owner}/{loc.repo}/tree/{manifest.commit}/{loc.folder}"
    moved = "; ".join(f"{r.pattern} -> {r.target.replace('{name}', '')}" for r in source.layout)
    checks = ", ".join(sorted({e.algorithm for e in manifest.entries}))
    licence = (f"The data in this directory is licensed under {source.licence}: {source.licence_url}\n"
               f"(full legal code: {source.licence_url}legalcode).\n\n"
               f"Attribution: {source.attribution}\n"
               f"Citation: {source.citation}\n\n"
               f"It is not part of hipbench and not covered by hipbench's licence. See ATTRIBUTION.md.\n")
    attribution = "\n".join([
        f"# {source.title}", "",
        f"- Licence: {source.licence} ({source.licence_url})",
        f"- Attribution: {source.attribution}",
        f"- Citation: {source.citation}",
        f"- Source: {tree_url} (ref `{loc.ref}`, commit `{manifest.commit}`)",
        f"- File list: {manifest.listing_url} (listed {manifest.listed_at})",
        f"- Downloaded from: {endpoints.mirror or endpoints.raw}",
        f"- Download completed: {today}",
        f"- Files: {len(manifest.entries)}, each verified by size and {checks}",
        f"- Changes: file contents unchanged; files placed as {moved}",
        f"- Note: {source.notes}" if source.notes else "",
        "",
    ])
    paths = [root / "LICENSE.txt", root / "ATTRIBUTION.md"]
    for path, text in zip(paths, (licence, attribution)):
        path.write_text(text)
    return paths


@dataclass
class DownloadResult:
    """What :func:`download` did: files fetched and skipped, bytes received, the file list, the summary."""

    root: Path
    manifest: Manifest
    fetched: int
    skipped: int
    summary: DatasetSummary | MeasureTableSummary
    notices: list[Path]


def _forbid_missing(source: DataSource, root: Path, missing: list[Entry], corrupt: set[str], commit: str,
                    endpoints: Endpoints) -> Exception:
    first = missing[0]
    target = root / first.path
    state = " (present but does not match its checksum)" if first.path in corrupt else ""
    return forbid_download(f"{source.name} file {first.source_path}{state}", target.name, target.parent,
                           f"It comes from {endpoints.file_url(source, commit, first)}; {len(missing)} file(s) are "
                           f"missing in all. A loopback mirror (--base-url http://127.0.0.1:PORT) is allowed offline.")


def download(source_name: str, out: str | Path, base_url: str | None = None, retries: int = 3,
             log: Log = print, progress: bool | None = None, backoff_s: float = 1.0, jobs: int = DEFAULT_JOBS,
             max_wait_s: float = DEFAULT_MAX_WAIT_S, token: str | None = None,
             clock: Clock | None = None) -> DownloadResult:
    """Download ``source_name`` into ``out`` (resuming, verifying), then summarise it and write the notices.

    ``base_url`` (else ``$HIPBENCH_MTDDH_URL``) replaces the source's location; see the module docstring for
    the offline rule. ``jobs`` files are fetched at once; ``max_wait_s`` caps a rate-limit wait (longer: the
    run stops with :class:`RateLimited`); ``token`` (else ``$GITHUB_TOKEN``) goes to GitHub's API and raw
    hosts only; ``clock`` replaces the real clock (tests). ``progress=None`` shows the byte progress bar only
    on a terminal.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    source = get_source(source_name)
    root = Path(out)
    endpoints = Endpoints.for_source(source, base_url)
    online = endpoints.loopback or not offline_requested()
    sessions = Sessions(jobs, token=token or github_token(), loopback=endpoints.loopback,
                        stay_local=endpoints.loopback and offline_requested(), user_agent=USER_AGENT)
    fetcher = Fetcher(sessions, retries=retries, backoff_s=backoff_s, log=log, max_wait_s=max_wait_s, clock=clock)
    manifest_path = root / STATE_DIR / MANIFEST_NAME
    with sessions:
        manifest = _manifest(fetcher, source, endpoints, manifest_path, online, log)
        todo, corrupt = _pending(root, manifest, log)
        if todo and not online:
            raise _forbid_missing(source, root, todo, corrupt, manifest.commit, endpoints)
        skipped = len(manifest.entries) - len(todo)
        if skipped:
            log(f"{skipped} file(s) already present and verified")
        try:
            failures = _fetch_all(fetcher, source, manifest, endpoints, root, todo, jobs, log, progress)
        finally:
            manifest.save(manifest_path)  # keeps LFS resolutions even when the run stops early
    if failures:
        raise IntegrityError(failures)

    summary: DatasetSummary | MeasureTableSummary
    if source.kind == "measures":  # a measure table (AV-DDH): read with every problem listed by its row
        summary = summarise_table(root, source.name)
    else:
        summary = summarise(root)
        if summary.unparsable:
            from hipbench.data.exclusions import write_exclusions

            write_exclusions(root, summary.unparsable, header="Labels of the source that cannot be used as they "
                             "are (written by `hipbench data download`);\nthe files are kept unchanged beside them.")
    notices = write_notices(root, source, manifest, endpoints)
    return DownloadResult(root, manifest, len(todo), skipped, summary, notices)


def _manifest(fetcher: Fetcher, source: DataSource, endpoints: Endpoints, manifest_path: Path, online: bool,
              log: Log) -> Manifest:
    """The saved file list, or a fresh listing of the source (saved before any file is fetched)."""
    root = manifest_path.parent.parent
    if manifest_path.is_file():
        try:
            manifest = Manifest.from_json(manifest_path.read_text())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DownloadError(f"{manifest_path}: unreadable saved file list ({exc}); delete it to list the "
                                "source again") from None
        if manifest.source != source.name:
            raise DownloadError(f"{root} holds a {manifest.source!r} download, not {source.name!r}; "
                                "choose another --out")
        log(f"using the saved file list {manifest_path} (commit {manifest.commit[:12]}, listed {manifest.listed_at})")
        return manifest
    if not online:
        raise forbid_download(f"the {source.name} file list", MANIFEST_NAME, manifest_path.parent,
                              f"It comes from {endpoints.commit_url(source)} and the trees API. A loopback mirror "
                              "(--base-url http://127.0.0.1:PORT) is allowed offline.")
    log(f"listing {source.location.web_url} via {endpoints.commit_url(source)}")
    manifest = list_github(fetcher, source, endpoints)
    manifest.save(manifest_path)
    log(f"{len(manifest.entries)} files at commit {manifest.commit[:12]}, {_size_text(manifest.entries)} "
        "in all by the file list")
    return manifest


def _size_text(entries: list[Entry]) -> str:
    """Total size of ``entries`` in MiB and bytes, e.g. ``'1.5 MiB (1572864 bytes)'``."""
    total = sum(e.size for e in entries)
    return f"{total / 2 ** 20:,.1f} MiB ({total} bytes)"


def _pending(root: Path, manifest: Manifest, log: Log) -> tuple[list[Entry], set[str]]:
    """Entries still to fetch (missing, or present but not matching the list) and the paths of the latter."""
    todo, corrupt = [], set()
    for entry in manifest.entries:
        target = root / entry.path
        if not target.is_file():
            todo.append(entry)
        elif (problem := verify(target, entry)) is not None:
            log(f"{entry.path}: present but does not match the list: expected {entry.digest} "
                f"({entry.size} bytes), found {problem}; fetching it again")
            todo.append(entry)
            corrupt.add(entry.path)
    return todo, corrupt


def _fetch_all(fetcher: Fetcher, source: DataSource, manifest: Manifest, endpoints: Endpoints, root: Path,
               todo: list[Entry], jobs: int, log: Log, progress: bool | None) -> list[str]:
    """Fetch ``todo`` with ``jobs`` threads; return the verification failures. The first other error stops
    the run: no new file starts, transfers in progress finish, then it is raised (a rate-limit stop with how
    many files are complete)."""
    from tqdm import tqdm

    if not todo:
        return []
    parts = [root / f"{e.path}.part" for e in todo]
    resumed = sum(min(p.stat().st_size, e.size) for p, e in zip(parts, todo) if p.is_file())
    log(f"{len(todo)} file(s) to fetch, {_size_text(todo)}, {jobs} at a time"
        + (f"; {resumed} bytes already in .part files" if resumed else ""))
    lock = threading.Lock()
    failures: list[str] = []
    done: list[Entry] = []

    def one(entry: Entry) -> None:
        failure = _fetch(fetcher, source, manifest, endpoints, root, entry, log, lock)
        with lock:
            (failures.append(failure) if failure else done.append(entry))

    with tqdm(total=sum(e.size for e in todo), initial=resumed, unit="B", unit_scale=True, unit_divisor=1024,
              desc=source.name, disable=None if progress is None else not progress) as bar:
        fetcher.bar = bar
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hipbench-download")
        try:
            futures = [pool.submit(one, entry) for entry in todo]
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    error = future.exception()
                    if error is None or isinstance(error, GateClosed):
                        continue
                    if not isinstance(error, Exception):
                        error = DownloadError(f"a download thread ended with {error!r}")
                    # a download error lets the transfers in progress finish; anything else stops them too
                    fetcher.gate.stop(error, abort_streams=not isinstance(error, DownloadError))
        except BaseException:  # Ctrl-C: stop every thread, transfers included (their .part files stay)
            fetcher.gate.stop(DownloadError("interrupted"), abort_streams=True)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            fetcher.bar = None
    stopped = fetcher.gate.stopped
    if isinstance(stopped, RateLimited):
        raise RateLimited(f"{stopped}. {len(done)} file(s) completed in this run stay; {len(todo) - len(done)} "
                          "left, files cut short continue from their .part") from None
    if stopped is not None:
        raise stopped
    return failures


def _fetch(fetcher: Fetcher, source: DataSource, manifest: Manifest, endpoints: Endpoints, root: Path,
           entry: Entry, log: Log, lock: threading.Lock) -> str | None:
    """Download, verify (one more try on a mismatch) and place one file, following a Git LFS pointer; return
    the verification failure, if any. ``lock`` guards ``manifest``, which the threads share."""
    target = root / entry.path
    part = target.with_name(target.name + ".part")
    url = endpoints.file_url(source, manifest.commit, entry)
    for attempt in (1, 2):
        fetcher.stream(url, part, entry.size, entry.path)
        problem = verify(part, entry)
        if problem is None:
            os.replace(part, target)
            break
        fetcher.discard(part, part.stat().st_size)
        message = f"{entry.path}: expected {entry.digest} ({entry.size} bytes), got {problem}"
        if attempt == 2:
            return message
        log(f"corrupted download: {message}; downloading it again")
    if entry.lfs or (pointer := _lfs_pointer(target)) is None:
        return None
    oid, size = pointer
    log(f"{entry.path}: Git LFS pointer; fetching the object ({size} bytes)")
    lfs_entry = Entry(entry.source_path, entry.path, size, f"sha256:{oid}", lfs=True)
    # the list now names the object, so a run stopped from here on resumes the object, not the pointer
    with lock:
        manifest.entries[manifest.entries.index(entry)] = lfs_entry
    target.unlink()
    fetcher.expect_more(size)
    return _fetch(fetcher, source, manifest, endpoints, root, lfs_entry, log, lock)
