"""``hipbench serve``: a local web app over runs, models and a dataset folder (optional extra ``serve``).

Three views share one page (plain HTML/CSS/JS from :mod:`hipbench.serve` ``static/``, no build step):
**Runs** (leaderboards, per-row plots, a case viewer over the test-fold predictions), **Measure** (upload an
image, predict and measure it as ``hipbench predict`` does) and **Review** (move landmarks, see the measures
recomputed, save into the dataset folder in its own format with an audit log).

Modules: :mod:`~hipbench.serve.config` (what is served), :mod:`~hipbench.serve.security` (host, token,
cross-site and path checks) with :mod:`~hipbench.serve.sessions` and :mod:`~hipbench.serve.ratelimit`,
:mod:`~hipbench.serve.uploads` (uploads checked by content and rebuilt from their decoded pixels: DICOM by
:mod:`~hipbench.serve.deid` with :mod:`~hipbench.serve.dicom_input`, :mod:`~hipbench.serve.dicom_pixels`,
:mod:`~hipbench.serve.codestream` and :mod:`~hipbench.serve.inflate`; PNG and JPEG by
:mod:`~hipbench.serve.raster`), :mod:`~hipbench.serve.runs` and :mod:`~hipbench.serve.cases` (leaderboards
and test-fold cases), :mod:`~hipbench.serve.models` (predictors), :mod:`~hipbench.serve.annotation_io`,
:mod:`~hipbench.serve.review`, :mod:`~hipbench.serve.folder_fs` and :mod:`~hipbench.serve.audit` (the dataset
folder), ``routes_*`` (one module per view) and :mod:`~hipbench.serve.app` (the app factory). Only the app,
the security middleware and the routes import the web framework. What the app promises and what it does not:
``docs/SECURITY.md``.
"""
