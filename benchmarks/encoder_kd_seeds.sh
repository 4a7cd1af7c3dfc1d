#!/usr/bin/env bash
# KD vs no-KD for the frozen-encoder family over several seeds on Twitter-2015 test, with paired tests.
# Usage: bash benchmarks/encoder_kd_seeds.sh DATA_ROOT OUT_DIR [PROTOCOL] [SEEDS]
#   PROTOCOL: reference (default; labels only, no training chains) or released-rationales (chains too).
#   SEEDS: comma-separated, default 1,2,3.
# One `run --seeds` (assistant, KD student, no-KD student and minilm-lr, each trainable model trained per seed; the
# entries hold mean, sd and a two-level bootstrap interval), then `compare` of the KD student against the no-KD
# student paired by seed and sample (McNemar on correctness, paired bootstrap on every metric). Image and text
# features come from the cache (MULCOT_BENCH_CACHE), so only the first seed encodes them.
set -euo pipefail
data_root=${1:?data root}; out=${2:?output folder}; protocol=${3:-reference}; seeds=${4:-1,2,3}
mkdir -p "$out"
id="enc-${protocol}-seeds-${seeds//,/-}"
start=$(date +%s)
mulcot-bench run -d twitter2015 -m enc-assistant -m enc-student -m enc-student-nokd -m minilm-lr \
  --data-root "$data_root" --protocol "$protocol" --seeds "$seeds" --run-id "$id" --runs-dir "$out/runs" \
  --reports-dir "$out/reports" > "$out/$id.log" 2>&1
echo "run: $(( $(date +%s) - start )) s -> $out/runs/$id/results.json"
mulcot-bench compare "$out/runs/$id" enc-student enc-student-nokd | tee "$out/$id.compare.txt"
python - "$out/runs/$id/results.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
print(f"{'model':<18} {'accuracy':>26} {'macro-F1':>26}   per seed (acc / macro-F1)")
for e in res["entries"]:
    if e.get("variant"):
        continue
    cell = lambda m: f"{100 * e['scores'][m]:.1f} ± {100 * (e['sd'].get(m) or 0):.1f} [{100 * e['intervals'].get(m, [0, 0])[0]:.1f}, {100 * e['intervals'].get(m, [0, 0])[1]:.1f}]"
    per = ", ".join(f"{100 * s['scores']['accuracy']:.1f}/{100 * s['scores']['macro_f1']:.1f}" for s in e["seeds"])
    print(f"{e['model']:<18} {cell('accuracy'):>26} {cell('macro_f1'):>26}   {per}")
PY
