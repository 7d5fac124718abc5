"""The installed package's version (what checkpoints and saved results record)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scribe")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
