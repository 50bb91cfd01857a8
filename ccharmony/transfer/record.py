"""
Transfer record
===============

Define :class:`Transfer`: a fitted colour transfer that can be applied to any
``(..., 3)`` array (in row blocks), to 8-bit colours (through a look-up over
the distinct colours), chained with :meth:`Transfer.then` and recorded with
:meth:`Transfer.to_dict` / :meth:`Transfer.from_dict`.

References
----------
-   :cite:`Niu2023` : Niu, L., Tan, L., Tao, X., Cao, J., Guo, F., Long, T., &
    Zhang, L. (2023). Deep Image Harmonization with Globally Guided Feature
    Transformation and Relation Distillation. ICCV 2023, 7723-7732.
    doi:10.1109/ICCV51070.2023.00710
-   :cite:`Cheung2004` : Cheung, V., Westland, S., Connah, D., & Ripamonti, C.
    (2004). A comparative study of the characterisation of colour cameras by
    means of neural networks and polynomial transforms. Coloration
    Technology, 120(1), 19-25. doi:10.1111/j.1478-4408.2004.tb00201.x
-   :cite:`Finlayson2015` : Finlayson, G. D., Mackiewicz, M., & Hurlbert, A.
    (2015). Color Correction Using Root-Polynomial Regression. IEEE
    Transactions on Image Processing, 24(5), 1460-1470.
    doi:10.1109/TIP.2015.2405336
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ccharmony._types import ArrayLike, NDArrayFloat, NDArrayUInt8
from ccharmony.errors import ConfigError
from ccharmony.transfer._methods import _SPECS, TransferDomain, _check_method

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["Transfer"]

_BLOCK_PIXELS = 1 << 17
"""Pixels per block in :meth:`Transfer.apply` (float64 work arrays stay ~10 MB)."""


@dataclass(frozen=True, eq=False)
class Transfer:
    """
    Hold a fitted colour transfer: one step, optionally followed by more steps.

    Parameters
    ----------
    method
        A key of :attr:`TRANSFER_METHODS`.
    params
        ``(3, terms)`` float64 matrix: output channel ``c`` is
        ``params[c] @ expand(RGB)`` (the layout of ccHarmony's published
        ``.npy`` files and of scikit-learn's ``coef_``).
    domain
        ``"srgb8"`` or ``"linear"``, fixed by the method.
    chain
        Further single-step transfers applied after this one, in order (see
        :meth:`then`); all in the same domain.

    Notes
    -----
    Domain/Range: ``"srgb8"`` 8-bit sRGB values as floats, [0, 255], the
    output of the last step clipped to [0, 255] (intermediate steps are not
    clipped); ``"linear"`` linear camera RGB, [0, 1] of white level, never
    clipped.

    References
    ----------
    :cite:`Niu2023`, :cite:`Finlayson2015`, :cite:`Cheung2004`
    """

    method: str
    params: np.ndarray
    domain: TransferDomain
    chain: tuple[Transfer, ...] = field(default=())

    def __post_init__(self) -> None:
        spec = _check_method(self.method)
        params = np.array(self.params, dtype=np.float64)  # a private copy
        if params.shape != (3, spec.terms):
            raise ConfigError(
                f"params: method {self.method!r} needs a (3, {spec.terms}) matrix, got shape {params.shape}"
            )
        if self.domain != spec.domain:
            raise ConfigError(
                f"domain: method {self.method!r} works in {spec.domain!r}, got {self.domain!r}"
            )
        params.setflags(write=False)
        object.__setattr__(self, "params", params)
        flat: list[Transfer] = []
        for step in self.chain:
            if not isinstance(step, Transfer):
                raise ConfigError(f"chain: expected Transfer steps, got {type(step).__name__}")
            if step.domain != self.domain:
                raise ConfigError(
                    f"chain: cannot chain a {step.domain!r} transfer after a {self.domain!r} one"
                )
            flat.extend(step.steps)
        object.__setattr__(self, "chain", tuple(flat))

    # -- structure -----------------------------------------------------------

    @property
    def steps(self) -> tuple[Transfer, ...]:
        """Return the single-step transfers in the order they are applied."""
        head = self if not self.chain else Transfer(self.method, self.params, self.domain)
        return (head, *self.chain)

    def then(self, other: Transfer) -> Transfer:
        """
        Return the transfer that applies ``self`` and then ``other``.

        Parameters
        ----------
        other
            The transfer applied to the output of ``self``; same domain.

        Returns
        -------
        Transfer
            A new chained transfer (``self`` and ``other`` are unchanged). For
            ``"srgb8"`` only the output of the last step is clipped.

        Raises
        ------
        ConfigError
            The domains differ.

        Examples
        --------
        >>> a = Transfer("diagonal", np.diag([2.0, 1.0, 0.5]), "linear")
        >>> a.then(a).apply(np.ones(3, np.float32))
        array([4.  , 1.  , 0.25], dtype=float32)
        """
        if not isinstance(other, Transfer):
            raise ConfigError(f"then: expected a Transfer, got {type(other).__name__}")
        if other.domain != self.domain:
            raise ConfigError(
                f"then: cannot chain a {other.domain!r} transfer after a {self.domain!r} one"
            )
        return Transfer(self.method, self.params, self.domain, chain=self.chain + other.steps)

    # -- evaluation ----------------------------------------------------------

    def _evaluate64(self, RGB: np.ndarray) -> np.ndarray:
        """Evaluate every step on ``(n, 3)`` float64 (no clipping)."""
        for step in self.steps:
            expansion = _SPECS[step.method].expand(RGB)
            # einsum: several times faster than BLAS matmul for (n, k) @ (k, 3)
            RGB = np.einsum("nk,ck->nc", expansion, step.params)
        return RGB

    def apply(self, RGB: ArrayLike, *, block_pixels: int = _BLOCK_PIXELS) -> NDArrayFloat:
        """
        Apply the transfer to any ``(..., 3)`` array.

        Parameters
        ----------
        RGB
            ``(..., 3)`` colours in the transfer's domain (any real dtype).
        block_pixels
            Pixels evaluated at a time; the float64 work arrays hold at most
            ``block_pixels x terms`` values, never a full image.

        Returns
        -------
        :class:`numpy.ndarray`
            float32 array of the same shape; NaN in a pixel gives NaN in that
            pixel.

        Notes
        -----
        Domain/Range: see :class:`Transfer`; ``"srgb8"`` output is clipped to
        [0, 255] after the last step.

        Examples
        --------
        >>> T = Transfer("linear3x3", np.eye(3) * 2, "linear")
        >>> T.apply(np.full((2, 2, 3), 0.25, np.float32))[1, 1]
        array([0.5, 0.5, 0.5], dtype=float32)
        """
        array = np.asarray(RGB)
        if array.ndim == 0 or array.shape[-1] != 3:
            raise ValueError(f"RGB must have shape (..., 3), got {array.shape}")
        flat = array.reshape(-1, 3)
        out = np.empty(flat.shape, dtype=np.float32)
        step_size = max(1, int(block_pixels))
        for start in range(0, flat.shape[0], step_size):
            block = flat[start : start + step_size].astype(np.float64)
            result = self._evaluate64(block)
            if self.domain == "srgb8":
                np.clip(result, 0.0, 255.0, out=result)
            out[start : start + step_size] = result
        return out.reshape(array.shape)

    def apply_uint8(self, image: ArrayLike, *, lut_threshold: int = 1 << 16) -> NDArrayUInt8:
        """
        Apply an ``"srgb8"`` transfer to 8-bit colours, returning 8-bit colours.

        Parameters
        ----------
        image
            ``(..., 3)`` uint8 sRGB colours.
        lut_threshold
            From this many pixels on, and when at most half of the pixels
            have distinct colours, the transfer is evaluated once per distinct
            colour (a presence table over the 2^24 colours, then a look-up)
            instead of once per pixel; the results are identical.

        Returns
        -------
        :class:`numpy.ndarray`
            uint8 array of the same shape: ``clip(rint(apply(image)), 0, 255)``.

        Raises
        ------
        ConfigError
            The transfer works in ``"linear"``.

        Examples
        --------
        >>> T = Transfer("poly11", np.hstack([np.eye(3) * 0.5, np.zeros((3, 8))]), "srgb8")
        >>> T.apply_uint8(np.array([[3, 100, 255]], np.uint8))
        array([[  2,  50, 128]], dtype=uint8)
        """
        if self.domain != "srgb8":
            raise ConfigError(
                f"apply_uint8: {self.method!r} works in linear camera RGB; use apply() on linear data"
            )
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"image must be uint8, got {array.dtype}")
        if array.ndim == 0 or array.shape[-1] != 3:
            raise ValueError(f"image must have shape (..., 3), got {array.shape}")
        flat = array.reshape(-1, 3)
        if flat.shape[0] < lut_threshold:
            return _to_uint8(self.apply(flat)).reshape(array.shape)
        codes = (
            (flat[:, 0].astype(np.int32) << 16) | (flat[:, 1].astype(np.int32) << 8) | flat[:, 2]
        )
        present = np.zeros(1 << 24, dtype=bool)
        present[codes] = True
        unique = np.flatnonzero(present).astype(np.int32)
        if unique.size > flat.shape[0] // 2:  # mostly distinct colours: a table does not pay
            return _to_uint8(self.apply(flat)).reshape(array.shape)
        colours = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=-1)
        table = np.empty((1 << 24, 3), dtype=np.uint8)
        table[unique] = _to_uint8(self.apply(colours))
        return table[codes].reshape(array.shape)

    # -- serialisation -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """
        Return a JSON-safe record of the transfer (repr-exact floats).

        Returns
        -------
        dict
            ``{"method", "domain", "params" (list of lists of float),
            "then" (list of step records)}``.

        Examples
        --------
        >>> T = Transfer("diagonal", np.diag([2.0, 1.0, 0.5]), "linear")
        >>> Transfer.from_dict(T.to_dict()).params.diagonal().tolist()
        [2.0, 1.0, 0.5]
        """
        return {
            "method": self.method,
            "domain": self.domain,
            "params": self.params.tolist(),
            "then": [
                {"method": s.method, "domain": s.domain, "params": s.params.tolist()}
                for s in self.chain
            ],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Transfer:
        """
        Rebuild a transfer from :meth:`to_dict` output.

        Parameters
        ----------
        record
            The mapping written by :meth:`to_dict` (for instance parsed JSON).

        Returns
        -------
        Transfer

        Raises
        ------
        ConfigError
            A key is missing or unknown, or a value has the wrong shape.
        """
        if not isinstance(record, Mapping):
            raise ConfigError(f"transfer record: expected a mapping, got {type(record).__name__}")
        unknown = set(record) - {"method", "domain", "params", "then"}
        missing = {"method", "domain", "params"} - set(record)
        if unknown or missing:
            raise ConfigError(
                f"transfer record: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}; "
                "expected method, domain, params, then"
            )
        try:
            params = np.asarray(record["params"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError("transfer record: params is not a matrix of numbers") from None
        steps = tuple(cls.from_dict(step) for step in record.get("then", []) or [])
        return cls(str(record["method"]), params, record["domain"], chain=steps)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transfer):
            return NotImplemented
        return all(
            a.method == b.method and a.domain == b.domain and np.array_equal(a.params, b.params)
            for a, b in zip(self.steps, other.steps)
        ) and len(self.steps) == len(other.steps)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = " -> ".join(step.method for step in self.steps)
        return f"Transfer({names}, domain={self.domain!r})"


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
