"""Profile one enc- family fit: where its time goes (the model's arithmetic, or the work around it).

Usage: nice -n 10 python benchmarks/encoder_fit_profile.py [--model enc-student-nokd] [--train N]
       [--set KEY=VALUE ...] [--data-root DIR] [--top 15]

Fits the model in this process on Twitter-2015 under the released-rationales view (the first N training items
by a seeded shuffle, the dev items the view holds out; features from the cache, ``MULCOT_BENCH_CACHE``, encoded
first when missing and not counted), under cProfile. Prints the fit's wall and CPU seconds with the load
average, the share of the profiled time spent inside torch's own functions (the arithmetic, autograd and
optimiser steps) against Python-level work, and the top functions by their own time. ``--set`` overrides a card
setting (e.g. ``label_members=1``, ``chain_epochs=2``) for a shorter profile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_common import default_data_root, load_line  # noqa: E402


def parse_value(text: str) -> Any:
    """A ``--set`` value: an int, a float, true/false, or the text."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def load_view(root: Path, train: int | None, seed: int) -> Any:
    """Twitter-2015 under the released-rationales view, its train split cut to ``train`` items (seeded)."""
    from mulcot_bench.data.loaders import load_twitter
    from mulcot_bench.data.views import apply_views

    data = apply_views(load_twitter(root / "twitter2015", "twitter2015"), "released-rationales", None, seed)
    if train is not None:
        items = list(data.train)
        random.Random(seed).shuffle(items)
        data = type(data)(data.name, data.level, items[:train], data.dev, data.test)
    return data


def torch_share(stats: pstats.Stats) -> tuple[float, float]:
    """(seconds inside torch's own functions and C builtins, all profiled seconds), by own time."""
    inside = total = 0.0
    for (file, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += own
        if "torch" in file or name.startswith(("<built-in method torch", "<method '", "<built-in method _")):
            inside += own
    return inside, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enc-student-nokd")
    parser.add_argument("--train", type=int, help="training items (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.types import FitContext

    registry = build_registry([])
    spec = registry.model(args.model)
    for item in args.set:
        key, _, value = item.partition("=")
        spec.card.settings[key] = parse_value(value)
    data = load_view(args.data_root, args.train, 42)
    model = spec.build()
    from mulcot_encoder.features import load_inputs  # the features, encoded once before the profile

    load_inputs(list(data.train) + list(data.dev), spec.card.settings)
    print(f"{args.model}: {len(data.train)} train, {len(data.dev)} dev; start, {load_line()}", flush=True)
    profile = cProfile.Profile()
    wall, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    report = model.fit(data.train, data.dev, FitContext(seed=42, dataset=data.name, level=data.level))
    profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"fit: {wall:.1f} s wall, {cpu:.1f} CPU s; end {load_line()}")
    print(f"report: label {report['label_phase']['seconds']} s, chain {report.get('chain_phase', {}).get('seconds')} s")
    stats = pstats.Stats(profile)
    inside, total = torch_share(stats)
    print(f"inside torch: {inside:.1f} of {total:.1f} profiled s ({100 * inside / max(total, 1e-9):.0f}%)")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-(args.top + 3) * 120 :])


if __name__ == "__main__":
    main()
