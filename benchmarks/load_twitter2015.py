"""Time loading Twitter-2015 (all splits, rationales attached) and decoding every image once with Pillow.

Usage: python benchmarks/load_twitter2015.py [DATA_ROOT]   (default: ../shared/data, else $MULCOT_BENCH_DATA_ROOT)
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from PIL import Image

from mulcot_bench.data.loaders import load_twitter


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MULCOT_BENCH_DATA_ROOT", default))
    folder = root / "twitter2015"
    if not folder.is_dir():
        sys.exit(f"no twitter2015 under {root}; pass the data root as the first argument")
    t0 = time.perf_counter()
    data = load_twitter(folder, "twitter2015")
    t1 = time.perf_counter()
    images = {s.meta["image_id"]: s.image for sp in ("train", "dev", "test") for s in data.split(sp) if s.image}
    for blob in images.values():
        with Image.open(io.BytesIO(blob)) as im:
            im.load()
    t2 = time.perf_counter()
    print(f"twitter2015: {sum(data.counts().values())} samples {data.counts()}, {len(images)} images")
    print(f"load (parse, read image bytes, match rationales): {t1 - t0:.2f} s")
    print(f"decode every image once with Pillow: {t2 - t1:.2f} s")
    print(f"total: {t2 - t0:.2f} s")


if __name__ == "__main__":
    main()
