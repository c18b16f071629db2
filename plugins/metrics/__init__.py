"""Built-in metric plugins (``hipbench.metrics`` entry points): NME, MRE, SDR, AI and IHDI agreement,
coverage. Each wraps :mod:`hipbench.metrics`, one figure family at a time."""
