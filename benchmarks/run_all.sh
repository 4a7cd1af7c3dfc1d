#!/usr/bin/env bash
# Times the Quick start on a fresh clone in a new virtual environment, with an empty cache:
# the set-up line, a first `mulcot-bench run --all`, and a second one that should reuse everything.
# Usage: bash benchmarks/run_all.sh [REPO]   (default: this repository's committed HEAD)
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
cd "$work/clone"
export MULCOT_BENCH_CACHE="$work/cache" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
setup=$(awk '/^## Quick start/{f=1; next} f && /^```/{n++; if (n==2) exit; next} f && n==1' README.md | head -1)

t() { local s e; s=$(date +%s.%N); "$@" > "$work/last.log" 2>&1 || { tail -20 "$work/last.log"; exit 1; }
      e=$(date +%s.%N); python3 -c "print(f'{$e - $s:.1f}')"; }
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, $(python3 --version)"
echo "set-up line (pip install, warm pip cache): $(t bash -c "$setup") s"
. .venv/bin/activate
echo "first  run --all (empty cache): $(t mulcot-bench run --all --run-id bench-1) s"
echo "second run --all (same cache):  $(t mulcot-bench run --all --run-id bench-2) s"
python3 - <<'PY'
import json
r = json.load(open("runs/bench-1/results.json"))
for e in r["entries"]:
    s = e["scores"]
    fmt = lambda k, scale=100: "-" if s.get(k) is None else f"{s[k] * scale:.1f}"
    print(f"{e['dataset']:10} {e['model']:22} {e['role']:9} acc {fmt('accuracy')} macro-F1 {fmt('macro_f1')} "
          f"BLEU-4 {fmt('bleu4', 1)} BERTScore-F1 {fmt('bertscore_f1')} format {fmt('format_valid')} "
          f"fit {e['stage'].get('wall_seconds', '-')} s")
PY
