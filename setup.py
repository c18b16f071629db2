"""Package discovery only; metadata and pins live in setup.cfg.

``plugins/`` ships as ``hipbench_plugins`` so the distribution never installs a generic top-level
package called ``plugins``.
"""

from setuptools import find_packages, setup

plugin_packages = ["hipbench_plugins"] + [f"hipbench_plugins.{p}" for p in find_packages("plugins")]
setup(
    packages=find_packages(include=["hipbench", "hipbench.*"]) + plugin_packages,
    package_dir={"hipbench_plugins": "plugins"},
)
