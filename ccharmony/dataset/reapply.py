"""
Re-applying a recorded transfer
===============================

Re-create a composite from its stored real image, its mask and the transfer
recorded in ``metadata.parquet`` (``transfer`` column), so that ``ccharmony
verify --deep`` and users can check and reproduce every composite:

-   :func:`transfer_record`: the JSON-safe record the builder stores.
-   :func:`reapply_transfer`: the composite from a real image, mask and record.

For ``srgb8`` methods (``poly11``, as published) the transfer is applied to the
8-bit pixels, exactly as the builder does. For ``linear`` methods the builder
applies the transfer to the linear camera RGB of the photo; from a stored 8-bit
image the linear values are recovered by inverting the fixed render pipeline
(:func:`ccharmony.render.linearise_srgb_float`), so the re-created composite matches
within quantisation and codec error, not bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ccharmony._types import ArrayLike, NDArrayUInt8
from ccharmony.errors import DatasetError

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["transfer_record", "reapply_transfer", "apply_record_to_foreground"]


def transfer_record(
    transfer: Any,
    *,
    domain: str,
    source_render: dict[str, Any] | None = None,
    target_render: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """
    Return the JSON-safe record of a composite's colour mapping.

    Parameters
    ----------
    transfer
        A :class:`ccharmony.transfer.Transfer` (source -> standard -> target).
    domain
        ``srgb8`` or ``linear``.
    source_render, target_render
        ``linear`` only: the render parameters of the source and target images
        (:meth:`ccharmony.render.RenderParameters.to_dict`), needed to go from the
        stored 8-bit real image to linear camera RGB and back.
    """
    record: dict[str, Any] = {"domain": domain, "transfer": transfer.to_dict()}
    if domain == "linear":
        record["source_render"] = source_render
        record["target_render"] = target_render
    return record


def apply_record_to_foreground(pixels: ArrayLike, record: dict[str, Any]) -> NDArrayUInt8:
    """
    Map foreground pixels with a transfer record, returning 8-bit sRGB.

    Parameters
    ----------
    pixels
        ``(..., 3)``: 8-bit sRGB values for ``srgb8`` records; linear camera RGB
        ([0, 1] of white level) of the source image for ``linear`` records.
    record
        As returned by :func:`transfer_record`.
    """
    from ccharmony.render import RenderParameters, render_srgb
    from ccharmony.transfer import Transfer

    transfer = Transfer.from_dict(record["transfer"])
    values = np.asarray(pixels)
    if record["domain"] == "srgb8":
        mapped = transfer.apply(values.astype(np.float32))
        return np.clip(np.rint(mapped), 0, 255).astype(np.uint8)
    if record["domain"] == "linear":
        mapped = transfer.apply(values.astype(np.float32))
        return render_srgb(mapped, camera_matrix=RenderParameters.from_dict(record["target_render"]))
    raise DatasetError(f"transfer record has unknown domain {record.get('domain')!r}")


def reapply_transfer(real: ArrayLike, mask: ArrayLike, record: dict[str, Any]) -> NDArrayUInt8:
    """
    Re-create a composite: ``mask·T(real) + (1 − mask)·real``.

    Parameters
    ----------
    real
        ``(H, W, 3)`` uint8 sRGB, the stored real image.
    mask
        ``(H, W)`` bool (or 0/255), the foreground.
    record
        The composite's transfer record (the parsed ``transfer`` column).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8; outside the mask it equals ``real`` byte for byte.
    """
    from ccharmony.render import RenderParameters, linearise_srgb_float

    real = np.asarray(real, dtype=np.uint8)
    inside = np.asarray(mask) > 0
    if inside.shape != real.shape[:2]:
        raise DatasetError(f"mask shape {inside.shape} does not match the real image {real.shape[:2]}")
    out = real.copy()
    foreground = real[inside]
    if record["domain"] == "linear":
        foreground = linearise_srgb_float(
            foreground.astype(np.float32), camera_matrix=RenderParameters.from_dict(record["source_render"])
        )
    out[inside] = apply_record_to_foreground(foreground, record)
    return out
