"""
Errors
======

Define the exception hierarchy of *ccharmony*:

-   :class:`CCHarmonyError`: base class; the CLI turns it into one stderr line.
-   :class:`UnreadableImageError`: a file that cannot be decoded (missing, empty,
    truncated, corrupt, or mislabelled).
-   :class:`ImageTooLargeError`: an image whose header asks for more pixels
    than the reader's limit (``--max-pixels``); refused before decoding.
-   :class:`UnsupportedFormatError`: a file whose format is not supported.
-   :class:`AnnotationError`: a malformed annotation (mask, patch colours, corners).
-   :class:`ConfigError`: a bad pipeline file or bad option.
-   :class:`DatasetError`: a dataset folder that cannot be built or read.
-   :class:`UsageError`: a command-line argument with a bad value (the CLI
    exits 2 for it, as for the parser's own errors; every other
    :class:`CCHarmonyError` exits 1).

Every message is one line that names the file or argument, the value received
and the accepted values or the fix.
"""

from __future__ import annotations

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = [
    "CCHarmonyError",
    "UnreadableImageError",
    "ImageTooLargeError",
    "UnsupportedFormatError",
    "AnnotationError",
    "ConfigError",
    "DatasetError",
    "UsageError",
]


class CCHarmonyError(Exception):
    """Base class of every error *ccharmony* raises on purpose."""


class UnreadableImageError(CCHarmonyError):
    """An image file is missing, empty, truncated, corrupt or mislabelled."""


class ImageTooLargeError(UnreadableImageError):
    """An image's header asks for more pixels than the limit; it was not decoded."""


class UnsupportedFormatError(CCHarmonyError):
    """An image file is of a format *ccharmony* does not read."""


class AnnotationError(CCHarmonyError):
    """An annotation file (mask, patch colours, corners, crop, list) is malformed."""


class ConfigError(CCHarmonyError):
    """A pipeline file or option is invalid."""


class UsageError(ConfigError):
    """A command-line argument has a bad value (exit status 2, like a parser error)."""


class DatasetError(CCHarmonyError):
    """A dataset folder cannot be built, written or read."""
