"""hipbench's built-in plugins, installed as ``hipbench_plugins``.

They register through the same ``hipbench.<kind>`` entry points (declared in ``setup.cfg``) as any
third-party plugin.
"""
