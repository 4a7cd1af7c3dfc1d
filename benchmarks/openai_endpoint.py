"""Run the ``openai`` teacher and the ``openai-zero-shot`` baseline against an OpenAI-compatible server you give.

Usage:
    python benchmarks/openai_endpoint.py --url http://127.0.0.1:8000/v1 --model NAME [--images off|auto|on]
        [--dataset synthetic] [--sizes 20,5,20] [--concurrency N] [--max-tokens N] [--out DIR]

Without ``--url`` (or ``$MULCOT_OPENAI_BASE_URL`` / ``$OPENAI_BASE_URL``) it prints one line and exits 2: this
script needs a running server (see docs/teachers.md, "A local server"). It runs
``mulcot-bench run -d DATASET -m openai -m openai-zero-shot --teacher openai`` in a fresh cache under ``--out``,
with the endpoint given as model arguments (``-o openai.base_url=URL -o openai-zero-shot.model=NAME ...``),
then prints per model: accuracy, macro-F1, invalid items, the teacher's stage counts and the wall time. The
key, if the server wants one, is read from ``$MULCOT_OPENAI_API_KEY`` or ``$OPENAI_API_KEY`` (never printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=os.environ.get("MULCOT_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL"))
    ap.add_argument("--model", default=os.environ.get("MULCOT_OPENAI_MODEL"), help="the model name the server knows")
    ap.add_argument("--images", choices=["off", "auto", "on"], default="auto")
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--sizes", default="20,5,20", help="train,dev,test sizes of the synthetic set")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("runs") / "openai-endpoint-bench")
    args = ap.parse_args(argv)
    if not args.url:
        print("no server given: pass --url http://HOST:PORT/v1 (a running OpenAI-compatible server); nothing run")
        return 2
    if not args.model:
        print("no model given: pass --model NAME (the name the server serves, e.g. from GET /v1/models)")
        return 2
    out = args.out.resolve()
    env = {**os.environ, "MULCOT_BENCH_CACHE": str(out / "cache")}
    model_args = [
        f"{name}.{key}={value}"
        for name in ("openai", "openai-zero-shot")
        for key, value in (("base_url", args.url), ("model", args.model), ("images", args.images),
                           ("max_tokens", args.max_tokens), ("concurrency", args.concurrency))
    ]  # fmt: skip
    run_id = time.strftime("%Y%m%d-%H%M%S")
    cli = [str(Path(sys.executable).parent / "mulcot-bench"), "run", "-d", args.dataset, "-m", "openai",
           "-m", "openai-zero-shot", "--teacher", "openai", "--runs-dir", str(out / "runs"),
           "--reports-dir", str(out / "reports"), "--run-id", run_id,
           *[arg for item in model_args for arg in ("-o", item)]]  # fmt: skip
    if args.dataset == "synthetic":
        cli += ["--synthetic-size", args.sizes]
    start = time.perf_counter()
    proc = subprocess.run(cli, env=env, text=True, capture_output=True)
    wall = time.perf_counter() - start
    sys.stderr.write(proc.stderr[-4000:])
    print(proc.stdout.strip())
    results = out / "runs" / run_id / "results.json"
    if not results.is_file():
        print(f"exit {proc.returncode}, no results written ({wall:.1f} s)")
        return proc.returncode or 1
    res = json.loads(results.read_text())
    for e in res["entries"]:
        s = e["scores"]
        stage = {k: v for k, v in (e.get("stage") or {}).items() if isinstance(v, int | float)}
        line = f"{e['model']}: accuracy {s.get('accuracy')}, macro-F1 {s.get('macro_f1')}"
        print(f"{line}, invalid {e['invalid']}/{e['n']}" + (f", stage {stage}" if stage else ""))
    for f in res["failures"]:
        print(f"FAILED {f['what']} {f.get('model') or ''}: {f['reason']}")
    print(f"exit {proc.returncode}, {wall:.1f} s, images={args.images}, results {results}")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
