"""mlops-platform: an MLOps platform declared as code on Pulumi.

The one import root of the distribution. The repository keeps its folders and maps them in here:
``mlops_platform.components`` (the Pulumi components), ``mlops_platform.stacks`` (the environment
spec and the program), ``mlops_platform.policies`` (the CrossGuard packs and their rules) and
``mlops_platform.tools`` (the ``mlops`` CLI, the offline engine and the reports).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlops-platform")
except PackageNotFoundError:  # a source tree used without installing it
    __version__ = "0+unknown"
