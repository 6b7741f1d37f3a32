"""The suites' plugin (grader/box/plugin.py) for every run from the kit's
folder: --needle-root, --mnist-dir, and the record channel."""
pytest_plugins = ("grader.box.plugin",)
