#!/usr/bin/env bash
# KD vs no-KD for the frozen-encoder family over several seeds on Twitter-2015 test, with paired tests.
# Usage: bash benchmarks/encoder_kd_seeds.sh DATA_ROOT OUT_DIR [PROTOCOL] [SEEDS...]
#   PROTOCOL: reference (default; labels only, no training chains) or released-rationales (chains too; slow:
#   the reasoning metrics of 1,037 chains take minutes per model). SEEDS default: 1 2 3.
# Per seed: one run folder (assistant, KD student, no-KD student), then `mulcot-bench compare` of the KD student
# against the no-KD student (McNemar on correctness, paired bootstrap on every metric). Image and text features
# come from the cache (MULCOT_BENCH_CACHE), so only the first seed encodes them.
set -euo pipefail
data_root=${1:?data root}; out=${2:?output folder}; protocol=${3:-reference}; shift $(( $# > 3 ? 3 : $# ))
seeds=("$@"); [ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
mkdir -p "$out"
for seed in "${seeds[@]}"; do
  id="enc-${protocol}-seed${seed}"
  start=$(date +%s)
  mulcot-bench run -d twitter2015 -m enc-assistant -m enc-student -m enc-student-nokd --data-root "$data_root" \
    --protocol "$protocol" --seed "$seed" --run-id "$id" --runs-dir "$out/runs" --reports-dir "$out/reports" \
    > "$out/$id.log" 2>&1
  echo "seed $seed: run $(( $(date +%s) - start )) s -> $out/runs/$id/results.json"
  mulcot-bench compare "$out/runs/$id" enc-student enc-student-nokd --no-model-metrics | tee "$out/$id.compare.txt"
done
python - "$out" "$protocol" "${seeds[@]}" <<'PY'
import json, statistics, sys
out, protocol, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = {}
for seed in seeds:
    res = json.load(open(f"{out}/runs/enc-{protocol}-seed{seed}/results.json"))
    for e in res["entries"]:
        if e["model"].startswith("enc-") and not e.get("variant"):
            rows.setdefault(e["model"], []).append((e["scores"]["accuracy"], e["scores"]["macro_f1"]))
print(f"{'model':<18} {'accuracy mean ± sd':>22} {'macro-F1 mean ± sd':>22}   per seed (acc / macro-F1)")
for model, vals in rows.items():
    acc, f1 = [100 * a for a, _ in vals], [100 * f for _, f in vals]
    sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)
    per = ", ".join(f"{a:.1f}/{f:.1f}" for a, f in zip(acc, f1))
    print(f"{model:<18} {statistics.mean(acc):>12.1f} ± {sd(acc):<7.1f} {statistics.mean(f1):>12.1f} ± {sd(f1):<7.1f}   {per}")
PY
