"""``python -m mlops_platform.tools.images``."""

from mlops_platform.tools.images.cli import run

run()
