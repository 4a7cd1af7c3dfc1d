"""Cold EfficientNet-Lite0 pooled features for Twitter-2015's images: the old path against the new, in one process.

Usage: python benchmarks/image_features_speed.py [--data-root DIR] [--limit N] [--slow-limit N] [--profile]

Each variant starts from an empty feature cache (a fresh temporary folder), so it decodes, hashes, encodes and
writes every image, as a first run does:

- ``torch-eager (before)``: the code before ONNX Runtime: decode, then ``extract_features`` in eager torch on
  contiguous tensors, batches of 32 under ``inference_mode`` (run on the first ``--slow-limit`` images only);
- ``torch channels-last``: ``ImageEncoder(runtime="torch")`` (``--slow-limit`` images too);
- ``onnxruntime, T threads``: ``ImageEncoder(runtime="onnxruntime", threads=T)`` for T = 1 and 2, on
  ``--limit`` images (default all 3,502); the first one includes the one-off ONNX export.

Prints images/s, wall seconds, the ratio to the old path, the largest feature difference to the old path and
the load average. ``--profile`` adds a torch profiler summary of the eager network (where its time goes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from speed_common import default_data_root, free_cores, load_line, missing_twitter, timed, twitter_images


def before(images: list[bytes], cache: Path, threads: int) -> np.ndarray:
    """The old path (decode, eager torch, contiguous tensors), written to a feature store as it was."""
    import torch
    from mulcot_features.encoders import ImageEncoder, decode_image
    from mulcot_features.store import sha256

    enc = ImageEncoder(cache, runtime="torch")
    net = enc.network()
    rows = []
    torch.set_num_threads(threads)
    for start in range(0, len(images), 32):
        chunk = images[start : start + 32]
        batch = torch.from_numpy(np.stack([decode_image(b, 224) for b in chunk]))
        with torch.inference_mode():
            pooled = net.extract_features(batch).mean(dim=(2, 3)).numpy()
        for blob, row in zip(chunk, pooled, strict=True):
            enc.store.put(enc._key("pooled", 224, sha256(blob)), row)
            rows.append(row)
    return np.stack(rows)


def encode(images: list[bytes], cache: Path, runtime: str, threads: int) -> np.ndarray:
    from mulcot_features.encoders import ImageEncoder

    return ImageEncoder(cache, runtime=runtime, threads=threads).pooled(images)


def profile(images: list[bytes]) -> None:
    """Top operators of one eager batch of 32 (torch profiler, self CPU time)."""
    import torch
    from mulcot_features.encoders import ImageEncoder, decode_image

    net = ImageEncoder(Path(tempfile.mkdtemp()), runtime="torch").network()
    batch = torch.from_numpy(np.stack([decode_image(b, 224) for b in images[:32]]))
    with torch.inference_mode(), torch.profiler.profile() as prof:
        net.extract_features(batch)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=default_data_root())
    ap.add_argument("--limit", type=int, default=None, help="images for the fast variants (default: all)")
    ap.add_argument("--slow-limit", type=int, default=256, help="images for the two torch variants")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the old path (the card's 1)")
    ap.add_argument("--profile", action="store_true", help="print a torch profiler summary of the eager network")
    args = ap.parse_args()
    if missing_twitter(args.data_root):
        return 2
    images = twitter_images(args.data_root)
    fast = images[: args.limit] if args.limit else images
    slow = images[: args.slow_limit]
    print(f"{len(images)} distinct images; fast variants on {len(fast)}, torch variants on {len(slow)}; "
          f"free cores {free_cores()}; {load_line()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="image-features-speed-"))
    old, old_s = timed(lambda: before(slow, work / "before", args.threads))
    base = len(slow) / old_s
    print(f"torch-eager (before), {args.threads} thread(s): {base:.1f} images/s ({old_s:.1f} s); {load_line()}",
          flush=True)
    plan = [("torch channels-last", "torch", args.threads, slow)] + [
        (f"onnxruntime, {t} thread(s)", "onnxruntime", t, fast) for t in (1, 2)]
    for name, runtime, threads, subset in plan:
        rows, secs = timed(lambda r=runtime, t=threads, s=subset, n=name: encode(s, work / n.replace(" ", ""), r, t))
        diff = float(np.abs(rows[: len(slow)] - old[: len(rows)]).max())
        print(f"{name}: {len(subset) / secs:.1f} images/s ({secs:.1f} s for {len(subset)}; "
              f"{len(subset) / secs / base:.2f}x before; max |feature diff| {diff:.1e}); {load_line()}", flush=True)
    if args.profile:
        profile(images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
