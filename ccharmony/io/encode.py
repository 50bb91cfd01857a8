"""
Image encoding and decoding
===========================

Encode and decode image files with OpenCV (and :mod:`tifffile` for TIFF), always
in RGB channel order, and refuse truncated files instead of decoding them
partially:

-   :func:`encode_image`: 8-bit RGB or grey array -> PNG / JPEG bytes.
-   :func:`decode_image`: PNG / JPEG / TIFF file or bytes -> 8-bit RGB or grey array.
-   :func:`decode_pixels`: the same, keeping the stored sample type (uint8,
    uint16, float), for the readers of :mod:`ccharmony.io`.
-   :func:`check_complete`: raise when a JPEG lacks its end-of-image marker or a
    PNG lacks its ``IEND`` chunk.

libjpeg decodes a truncated JPEG "successfully" (the missing rows come out
grey, with only a warning on stderr), so completeness is checked on the bytes
before decoding: the last start-of-scan marker (``FF DA``) must be followed by an
end-of-image marker (``FF D9``). Inside entropy-coded data every ``FF`` byte is
stuffed (``FF 00``), so ``FF D9`` there can only be the real marker.

No EXIF orientation is applied here (see :func:`ccharmony.io.read_srgb8`).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from ccharmony._types import NDArrayUInt8, PathType
from ccharmony.errors import UnreadableImageError, UnsupportedFormatError
from ccharmony.io.limits import DEFAULT_MAX_PIXELS, check_image_size, opencv_failure
from ccharmony.io.sniff import describe_container, extension_class, sniff_container

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["encode_image", "encode_mask", "decode_image", "decode_mask", "decode_pixels", "check_complete", "read_file_bytes"]

_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def read_file_bytes(path: PathType) -> bytes:
    """
    Read a whole image file, turning every failure into one clear error.

    Only a regular file is read: a FIFO, a device or a socket is refused
    without blocking on it (:func:`ccharmony.io.files.open_regular`).

    Raises
    ------
    UnreadableImageError
        If the file is missing, a folder, not a regular file, unreadable or empty.

    Examples
    --------
    >>> read_file_bytes("/nonexistent/x.png")
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: /nonexistent/x.png: no such file
    """
    from ccharmony.io.files import read_regular_bytes

    target = Path(path)
    data = read_regular_bytes(target, what="an image file")
    if not data:
        raise UnreadableImageError(f"{target}: file is empty (0 bytes)")
    return data


def check_complete(data: bytes, container: str, *, name: str) -> None:
    """
    Raise when a JPEG or PNG file is visibly truncated.

    Parameters
    ----------
    data
        The whole file.
    container
        ``"jpeg"`` or ``"png"`` (other containers are not checked here).
    name
        File name for the message.

    Raises
    ------
    UnreadableImageError
        If a JPEG has no end-of-image marker after its last scan, or a PNG has
        no ``IEND`` chunk.

    Examples
    --------
    >>> check_complete(b"\\xff\\xd8\\xff\\xda\\x00\\x02\\x12\\x34", "jpeg", name="a.jpg")
    Traceback (most recent call last):
    ...
    ccharmony.errors.UnreadableImageError: a.jpg: JPEG file is truncated (no end-of-image marker after the image data)
    """
    if container == "jpeg":
        last_scan = data.rfind(b"\xff\xda")
        if last_scan < 0 or data.find(b"\xff\xd9", last_scan + 2) < 0:
            raise UnreadableImageError(
                f"{name}: JPEG file is truncated (no end-of-image marker after the image data)"
            )
    elif container == "png" and data.rfind(_PNG_IEND) < 0:
        raise UnreadableImageError(f"{name}: PNG file is truncated (no IEND chunk)")


def _to_rgb_order(array: np.ndarray) -> np.ndarray:
    """Turn OpenCV's BGR / BGRA / grey output into RGB / grey (alpha dropped)."""
    if array.ndim == 3 and array.shape[2] == 1:
        return array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    return array


def _decode_tiff(data: bytes, name: str) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages.first
            array = page.asarray()
            extra = len(getattr(page, "extrasamples", ()) or ())
    except Exception as error:  # tifffile raises many types on corrupt input
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UnreadableImageError(f"{name}: cannot decode the TIFF ({message})") from None
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[2] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # planar configuration
    if array.ndim == 3 and extra and array.shape[2] - extra in (1, 3):
        array = array[:, :, : array.shape[2] - extra]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise UnsupportedFormatError(f"{name}: TIFF with shape {array.shape} is not an image ccharmony reads")
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)


def decode_pixels(
    data: bytes, *, name: str, container: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """
    Decode a JPEG, PNG or TIFF file held in memory, keeping its sample type.

    Parameters
    ----------
    data
        The whole file.
    name
        File name for messages.
    container
        ``"jpeg"``, ``"png"`` or ``"tiff"``; sniffed from ``data`` when omitted.
    max_pixels
        Largest image decoded: the header is read first and a larger image is
        refused before any pixel is decoded (:mod:`ccharmony.io.limits`).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB, alpha dropped, in the stored
        type (uint8, uint16, or float for float TIFFs), EXIF orientation not applied.

    Raises
    ------
    ImageTooLargeError
        A header above ``max_pixels``.
    UnreadableImageError
        Empty, truncated or undecodable data.
    UnsupportedFormatError
        Not a JPEG, PNG or TIFF.
    """
    if not data:
        raise UnreadableImageError(f"{name}: file is empty (0 bytes)")
    kind = container or sniff_container(data[:64])
    if kind not in ("jpeg", "png", "tiff"):
        raise UnsupportedFormatError(
            f"{name}: file content is {describe_container(kind)}; expected a JPEG, PNG or TIFF image"
        )
    check_image_size(data, name=name, max_pixels=max_pixels)
    if kind == "tiff":
        return _decode_tiff(data, name)
    return _to_rgb_order(_imdecode_complete(data, kind, name))


def _imdecode_complete(data: bytes, kind: str, name: str) -> np.ndarray:
    """Decode a complete JPEG / PNG with OpenCV, in its own channel order (BGR / BGRA / grey)."""
    check_complete(data, kind, name=name)
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # OpenCV's own limits (CV_IO_MAX_IMAGE_PIXELS) and decoder failures
        raise UnreadableImageError(f"{name}: {opencv_failure(error)}") from None
    if array is None or array.size == 0:
        raise UnreadableImageError(f"{name}: cannot decode the {describe_container(kind)} data (corrupt file)")
    return array


def _read_source(source: PathType | bytes, name: str | None) -> tuple[bytes, str]:
    """Return a file's bytes and the name messages use (``name``, else the path, else ``"<bytes>"``)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "<bytes>"
    return read_file_bytes(source), name or str(source)


def _to_uint8(array: np.ndarray, name: str) -> NDArrayUInt8:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    raise UnsupportedFormatError(f"{name}: {array.dtype} samples cannot be read as an 8-bit image")


def decode_image(
    source: PathType | bytes, *, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> NDArrayUInt8:
    """
    Decode an 8-bit image (mask, real image, composite) in RGB order.

    Parameters
    ----------
    source
        A file path, or the file's bytes.
    name
        Name used in messages when ``source`` is bytes (default ``"<bytes>"``).
    max_pixels
        Largest image decoded (see :func:`decode_pixels`).

    Returns
    -------
    numpy.ndarray
        uint8 ``(H, W, 3)`` RGB or ``(H, W)`` grey; 16-bit files are rounded to
        8 bits; alpha is dropped; EXIF orientation is not applied.

    Raises
    ------
    UnreadableImageError
        With the file name, for a missing, empty, truncated or corrupt file.
    UnsupportedFormatError
        For content that is not a JPEG, PNG or TIFF.

    Examples
    --------
    >>> rgb = np.zeros((2, 3, 3), np.uint8); rgb[..., 0] = 200
    >>> decode_image(encode_image(rgb, ".png"))[0, 0].tolist()
    [200, 0, 0]
    """
    data, label = _read_source(source, name)
    return _to_uint8(decode_pixels(data, name=label, max_pixels=max_pixels), label)


def encode_mask(mask: np.ndarray) -> bytes:
    """
    Encode a foreground mask as an 8-bit greyscale PNG (0 outside, 255 inside).

    The settings were chosen by measurement (``benchmarks/encode_settings.py``,
    a 16-megapixel mask): zlib level 1 with libpng's row filter off encodes in
    0.021 s instead of 0.102 s (``encode_image``'s level 3 with adaptive
    filtering, which suits photographs, not two-level masks), decodes in 0.010 s
    instead of 0.015 s, and is as small (0.079 MB). A 1-bit PNG would be faster
    still, but Pillow reads it as booleans, which loaders written for 8-bit
    iHarmony4 masks misread. OpenCV before 4.11 has no filter option: there
    the file is level 1 with the default filter (same pixels, other bytes).

    Parameters
    ----------
    mask
        bool ``(H, W)``, or uint8 ``(H, W)`` with values 0 / 255.

    Returns
    -------
    bytes
        The PNG file.

    Examples
    --------
    >>> mask = np.zeros((2, 3), bool); mask[0, 1] = True
    >>> decode_mask(encode_mask(mask)).tolist()
    [[False, True, False], [False, False, False]]
    """
    array = np.asarray(mask)
    if array.dtype == np.bool_:
        array = array.view(np.uint8) * np.uint8(255)
    if array.dtype != np.uint8 or array.ndim != 2:
        raise ValueError(f"mask must be bool or uint8 (H, W), got {array.dtype} {array.shape}")
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(array), params)
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input checked above
        raise UnsupportedFormatError(f"OpenCV could not encode a {array.shape} mask as PNG")
    return buffer.tobytes()


def decode_mask(
    source: PathType | bytes, *, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """
    Decode a foreground mask: ``True`` where its first (red, or grey) channel is above 127.

    The same pixels as ``decode_image(source)[..., 0] > 127`` (``decode_image``
    rounds 16-bit samples to 8 bits first), but only that channel is converted:
    at 24 megapixels reordering a three-channel mask to RGB costs as much again
    as thresholding it (``benchmarks/build_speed.py``, "read masks").

    Parameters
    ----------
    source
        A JPEG, PNG or TIFF file path, or the file's bytes.
    name
        Name used in messages when ``source`` is bytes (default ``"<bytes>"``).
    max_pixels
        Largest mask decoded (see :func:`decode_pixels`).

    Returns
    -------
    numpy.ndarray
        bool ``(H, W)``.

    Raises
    ------
    UnreadableImageError
        As :func:`decode_image`, and for a file whose content is another
        format than its extension names (a JPEG named ``.png``).
    UnsupportedFormatError
        As :func:`decode_image`.

    Examples
    --------
    >>> rgb = np.zeros((1, 3, 3), np.uint8); rgb[0, 1, 0] = 200; rgb[0, 2, 1] = 255
    >>> decode_mask(encode_image(rgb, ".png")).tolist()
    [[False, True, False]]
    """
    data, label = _read_source(source, name)
    kind = sniff_container(data[:64]) if data else None
    if not isinstance(source, (bytes, bytearray, memoryview)):
        claimed = extension_class(source)
        if claimed in ("jpeg", "png", "tiff") and kind in ("jpeg", "png", "tiff") and kind != claimed:
            # A JPEG named .png is lossy where a mask must be exact: its name promises what it is not.
            raise UnreadableImageError(
                f"{label}: file content is {describe_container(kind)} but the extension says "
                f"{describe_container(claimed)}; a mask must be the format its name says (a lossless PNG)"
            )
    if kind not in ("jpeg", "png"):
        array = decode_pixels(data, name=label, container=kind, max_pixels=max_pixels)  # TIFF, or the error
        first = array[..., 0] if array.ndim == 3 else array
    else:
        check_image_size(data, name=label, max_pixels=max_pixels)
        decoded = _imdecode_complete(data, kind, label)
        # OpenCV keeps BGR(A) order: red is channel 2.
        first = decoded[..., 2] if decoded.ndim == 3 and decoded.shape[2] >= 3 else decoded.reshape(decoded.shape[:2])
    return _to_uint8(first, label) > 127


def encode_image(
    image: np.ndarray, ext: str, *, quality: int = 95, chroma_444: bool = False, bgr: bool = False
) -> bytes:
    """
    Encode an 8-bit RGB or grey image as PNG or JPEG bytes.

    Parameters
    ----------
    image
        uint8 ``(H, W, 3)`` RGB or ``(H, W)`` grey.
    ext
        ``".png"`` or ``".jpg"`` (``".jpeg"`` accepted).
    quality
        JPEG quality 1-100 (ignored for PNG).
    chroma_444
        JPEG without chroma subsampling (4:4:4) instead of OpenCV's 4:2:0; keeps
        colour edges (such as a foreground boundary) sharp.
    bgr
        ``image`` is already in OpenCV's BGR order (saves a full-image copy; the
        same bytes as encoding the RGB image).

    Returns
    -------
    bytes
        The encoded file; the same input always gives the same bytes with a
        given OpenCV build.

    Raises
    ------
    ValueError
        If ``image`` is not uint8 ``(H, W)`` / ``(H, W, 3)`` or ``quality`` is out of range.
    UnsupportedFormatError
        If ``ext`` is not a PNG or JPEG extension.

    Examples
    --------
    >>> encode_image(np.zeros((4, 4), np.uint8), ".png")[:4]
    b'\\x89PNG'
    """
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {array.dtype}; convert with np.clip(x, 0, 255).astype(np.uint8)")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3))):
        raise ValueError(f"image must have shape (H, W) or (H, W, 3), got {array.shape}")
    suffix = ext.lower() if ext.startswith(".") else "." + ext.lower()
    if suffix == ".jpeg":
        suffix = ".jpg"
    if suffix not in (".png", ".jpg"):
        raise UnsupportedFormatError(f"ext must be '.png' or '.jpg', got {ext!r}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be 1-100, got {quality}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and not bgr:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ordered = np.ascontiguousarray(array)
    if suffix == ".jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if chroma_444:
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buffer = cv2.imencode(suffix, ordered, params)
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input checked above
        raise UnsupportedFormatError(f"OpenCV could not encode a {array.shape} image as {suffix}")
    return buffer.tobytes()
