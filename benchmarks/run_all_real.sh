#!/usr/bin/env bash
# Times `mulcot-bench run --all` on the real data under a protocol with an empty cache (image and text features
# encoded too), runs the modality ablation of the encoder family from that cache (trained models reused), prints the
# Twitter-2015 table, then times `run --all` again with an empty result cache that keeps only the features.
# Usage: bash benchmarks/run_all_real.sh DATA_ROOT OUT_DIR [PROTOCOL]   (default protocol: released-rationales)
set -euo pipefail
data_root=$(cd "${1:?data root}" && pwd); out=${2:?output folder}; protocol=${3:-released-rationales}
mkdir -p "$out"; out=$(cd "$out" && pwd)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
echo "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
timed() {  # timed LABEL CACHE ARGS...: one run with its own cache folder, wall seconds printed
  local label=$1 cache=$2; shift 2
  local s; s=$(date +%s)
  MULCOT_BENCH_CACHE="$cache" mulcot-bench run "$@" --data-root "$data_root" --protocol "$protocol" \
    --runs-dir "$out/runs" --reports-dir "$out/reports" --run-id "$label" > "$out/$label.log" 2>&1 \
    || { tail -20 "$out/$label.log"; echo "$label failed (log: $out/$label.log)"; exit 1; }
  echo "$label: $(( $(date +%s) - s )) s, load average now $(cut -d' ' -f1-3 /proc/loadavg) -> $out/runs/$label"
}
timed all-cold "$out/cache-cold" --all
timed ablation "$out/cache-cold" -d twitter2015 -m enc-assistant -m enc-student -m enc-student-nokd \
  --ablation text-only --ablation image-only
python - "$out/runs/all-cold/results.json" "$out/runs/ablation/results.json" <<'PY'
import json, sys
cols = ["accuracy", "macro_f1", "weighted_f1", "bleu4", "bleu4_sentence", "bertscore_f1", "format_valid", "chain_consistency"]
print("dataset / model@variant: " + " / ".join(cols) + "  (x100, BLEU on 0-100)")
for path in sys.argv[1:]:
    for e in json.load(open(path))["entries"]:
        if e["dataset"] != "twitter2015" or (path.endswith("ablation/results.json") and not e.get("variant")):
            continue
        s = e["scores"]
        cell = lambda k: "-" if s.get(k) is None else f"{s[k] * (1 if 'bleu' in k else 100):.1f}"
        name = e["model"] + (f"@{e['variant']}" if e.get("variant") else "")
        print(f"{name:<34} " + " ".join(f"{cell(k):>6}" for k in cols))
PY
mkdir -p "$out/cache-warm" && ln -sfn "$out/cache-cold/features" "$out/cache-warm/features"
timed all-features-cached "$out/cache-warm" --all
