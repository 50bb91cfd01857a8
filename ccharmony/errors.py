"""
Errors
======

Define the exception hierarchy of *ccharmony*:

-   :class:`CCHarmonyError`: base class; the CLI turns it into one stderr line.
-   :class:`UnreadableImageError`: a file that cannot be decoded (missing, empty,
    truncated, corrupt, or mislabelled).
-   :class:`UnsupportedFormatError`: a file whose format is not supported.
-   :class:`AnnotationError`: a malformed annotation (mask, patch colours, corners).
-   :class:`ConfigError`: a bad pipeline file or bad option.
-   :class:`DatasetError`: a dataset folder that cannot be built or read.

Every message is one line that names the file or argument, the value received
and the accepted values or the fix.
"""

from __future__ import annotations

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CCHarmonyError",
    "UnreadableImageError",
    "UnsupportedFormatError",
    "AnnotationError",
    "ConfigError",
    "DatasetError",
]


class CCHarmonyError(Exception):
    """Base class of every error *ccharmony* raises on purpose."""


class UnreadableImageError(CCHarmonyError):
    """An image file is missing, empty, truncated, corrupt or mislabelled."""


class UnsupportedFormatError(CCHarmonyError):
    """An image file is of a format *ccharmony* does not read."""


class AnnotationError(CCHarmonyError):
    """An annotation file (mask, patch colours, corners, crop, list) is malformed."""


class ConfigError(CCHarmonyError):
    """A pipeline file or option is invalid."""


class DatasetError(CCHarmonyError):
    """A dataset folder cannot be built, written or read."""
