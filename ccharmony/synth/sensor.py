"""
Simulated sensor
================

Define what happens between the light reaching the sensor and the raw file:

-   :class:`SensorSettings`: CFA pattern, black and white levels, conversion
    gain and read noise of one capture.
-   :func:`cfa_channels`: the colour channel (0 R, 1 G, 2 B) of every photosite.
-   :func:`mosaic`: sample a noise-free linear RGB rendering through the CFA.
-   :func:`expose`: add shot and read noise and the black level, quantise and
    clip to raw digital numbers.

The noise model is the usual affine one (:cite:`Foi2008`): the variance in
digital numbers is ``conversion_gain * signal + read_noise ** 2``, drawn as a
Gaussian (the Poisson shot noise's normal approximation), then rounded.

References
----------
-   :cite:`Foi2008` : Foi, A., Trimeche, M., Katkovnik, V., & Egiazarian, K.
    (2008). Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data. IEEE Transactions on Image Processing, 17(10),
    1737-1754. doi:10.1109/TIP.2008.2001399
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccharmony._types import NDArray, NDArrayFloat
from ccharmony.errors import ConfigError
from ccharmony.io.dng import CFA_PATTERNS

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["SensorSettings", "cfa_channels", "mosaic", "expose"]


@dataclass(frozen=True)
class SensorSettings:
    """
    Describe the simulated sensor of one capture.

    Parameters
    ----------
    cfa_pattern
        2x2 CFA pattern, a key of :data:`ccharmony.io.dng.CFA_PATTERNS`.
    black_level
        Black level in digital numbers (DN).
    white_level
        Saturation level in DN.
    conversion_gain
        DN per photo-electron (higher at higher ISO).
    read_noise
        Standard deviation of the read noise in DN.
    """

    cfa_pattern: str = "RGGB"
    black_level: int = 1024
    white_level: int = 16383
    conversion_gain: float = 0.5
    read_noise: float = 2.0

    def __post_init__(self) -> None:
        if self.cfa_pattern not in CFA_PATTERNS:
            raise ConfigError(
                f"cfa_pattern {self.cfa_pattern!r} is unknown; use one of {', '.join(CFA_PATTERNS)}"
            )
        if not 0 <= self.black_level < self.white_level <= 65535:
            raise ConfigError(
                f"levels must satisfy 0 <= black < white <= 65535, got {self.black_level}, "
                f"{self.white_level}"
            )
        if self.conversion_gain < 0 or self.read_noise < 0:
            raise ConfigError("conversion_gain and read_noise must be >= 0")


def cfa_channels(shape: tuple[int, int], cfa_pattern: str) -> NDArray[np.intp]:
    """
    Return the colour channel of every photosite of a CFA mosaic.

    Parameters
    ----------
    shape
        ``(H, W)`` of the mosaic.
    cfa_pattern
        2x2 pattern of the top-left corner (``"RGGB"`` ...).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` channel indices, 0 R, 1 G, 2 B.

    Examples
    --------
    >>> cfa_channels((2, 4), "GRBG").tolist()
    [[1, 0, 1, 0], [2, 1, 2, 1]]
    """
    if cfa_pattern not in CFA_PATTERNS:
        raise ConfigError(f"cfa_pattern {cfa_pattern!r} is unknown; use one of {', '.join(CFA_PATTERNS)}")
    tile = np.asarray(CFA_PATTERNS[cfa_pattern], dtype=np.intp).reshape(2, 2)
    rows, cols = shape
    return np.tile(tile, ((rows + 1) // 2, (cols + 1) // 2))[:rows, :cols]


def mosaic(RGB: NDArrayFloat, cfa_pattern: str) -> NDArrayFloat:
    """
    Sample linear RGB through a CFA.

    Parameters
    ----------
    RGB
        ``(H, W, 3)`` linear camera RGB.
    cfa_pattern
        2x2 pattern of the top-left corner.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32, the channel of each photosite.

    Notes
    -----
    Domain/Range: any linear scale, unchanged.

    Examples
    --------
    >>> RGB = np.zeros((2, 2, 3), np.float32); RGB[..., 0] = 1; RGB[..., 2] = 3
    >>> mosaic(RGB, "RGGB").tolist()
    [[1.0, 0.0], [0.0, 3.0]]
    """
    RGB = np.asarray(RGB, dtype=np.float32)
    channels = cfa_channels(RGB.shape[:2], cfa_pattern)
    return np.take_along_axis(RGB, channels[..., None], axis=2)[..., 0]


def expose(signal: NDArrayFloat, settings: SensorSettings, rng: np.random.Generator
           ) -> NDArray[np.uint16]:
    """
    Turn a noise-free linear mosaic into raw digital numbers.

    Parameters
    ----------
    signal
        ``(H, W)`` noise-free linear signal, [0, 1] of (white - black).
    settings
        The sensor.
    rng
        Random generator of the noise.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint16 raw values in ``[0, white_level]``, black level
        included.

    Notes
    -----
    Domain: ``signal`` [0, 1] of the white level above black; larger values
    clip at the white level. Noise variance in DN:
    ``conversion_gain * signal_DN + read_noise ** 2`` (:cite:`Foi2008`).

    References
    ----------
    :cite:`Foi2008`

    Examples
    --------
    >>> raw = expose(np.full((4, 4), 0.5, np.float32),
    ...              SensorSettings(read_noise=0.0, conversion_gain=0.0),
    ...              np.random.default_rng(0))
    >>> int(raw[0, 0])
    8704
    """
    scale = np.float32(settings.white_level - settings.black_level)
    signal_dn = np.asarray(signal, dtype=np.float32) * scale
    variance = np.maximum(signal_dn, 0) * np.float32(settings.conversion_gain)
    variance += np.float32(settings.read_noise**2)
    noise = rng.standard_normal(signal_dn.shape, dtype=np.float32)
    noise *= np.sqrt(variance)
    raw = signal_dn + noise
    raw += np.float32(settings.black_level)
    np.rint(raw, out=raw)
    np.clip(raw, 0, settings.white_level, out=raw)
    return raw.astype(np.uint16)
