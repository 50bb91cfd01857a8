"""Measure read_image on a synthetic 24-MP DNG (6000x4000, 12-bit) and a 24-MP JPEG; print a table."""
from __future__ import annotations
import tempfile, time, resource
from pathlib import Path
import numpy as np
from ccharmony.io import IngestOptions, read_image
from ccharmony.io.dng import write_dng
from ccharmony.io.mosaic import demosaic_bilinear, bin_2x2
from ccharmony.io.encode import encode_image

def best(f, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))

rng = np.random.default_rng(0)
mosaic = (rng.integers(0, 3500, (4000, 6000), dtype=np.uint16) + 512).astype(np.uint16)
folder = Path(tempfile.mkdtemp())
dng = write_dng(folder / "big.dng", mosaic, cfa_pattern="RGGB", black_level=512, white_level=4095)
jpg = folder / "big.jpg"; jpg.write_bytes(encode_image(rng.integers(0, 256, (4000, 6000, 3), dtype=np.uint8), ".jpg"))
read_image(jpg)  # warm the colour import / LUT
rows = [
    ("demosaic_bilinear 24 MP uint16 (in memory)", best(lambda: demosaic_bilinear(mosaic, cfa="RGGB", black_level=512, white_level=4095))),
    ("demosaic_bilinear 24 MP, per-site blacks differ", best(lambda: demosaic_bilinear(mosaic, cfa="RGGB", black_level=[[512, 510], [514, 512]], white_level=4095))),
    ("bin_2x2 24 MP uint16 (in memory)", best(lambda: bin_2x2(mosaic, cfa="RGGB", black_level=512, white_level=4095))),
    ("read_image 24 MP DNG full resolution", best(lambda: read_image(dng))),
    ("read_image 24 MP DNG half size", best(lambda: read_image(dng, IngestOptions(half_size=True)))),
    ("read_image 24 MP JPEG (rendered)", best(lambda: read_image(jpg))),
]
print(f"{'case':52s} {'best s':>8s} {'median s':>9s}")
for name, (b, m) in rows:
    print(f"{name:52s} {b:8.3f} {m:9.3f}")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
