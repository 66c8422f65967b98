"""The one version string: read by hatch for the package metadata, the User-Agent and
``coupontools_async.__version__``."""

__version__ = "0.1.0"
