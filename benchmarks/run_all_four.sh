#!/usr/bin/env bash
# Times `mulcot-bench run --all` on the four real datasets with an empty cache (features encoded too) under a
# protocol (default: the run's default, auto), then prints each real dataset's rows: modality, protocol, and the
# headline metrics of every model (x100; BLEU-4 on 0-100). Per-step times are in OUT/runs/<label>/run.log.
# Usage: bash benchmarks/run_all_four.sh DATA_ROOT OUT_DIR [PROTOCOL]   ($MULCOT_BENCH: the command, default mulcot-bench)
set -euo pipefail
data_root=$(cd "${1:?data root}" && pwd); out=${2:?output folder}; protocol=${3:-auto}
mkdir -p "$out"; out=$(cd "$out" && pwd)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
read -r -a cli <<< "${MULCOT_BENCH:-mulcot-bench}"
label="all-$protocol"
echo "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
start=$(date +%s)
MULCOT_BENCH_CACHE="$out/cache-$protocol" "${cli[@]}" run --all --data-root "$data_root" --protocol "$protocol" \
  --runs-dir "$out/runs" --reports-dir "$out/reports" --run-id "$label" > "$out/$label.log" 2>&1 \
  || { tail -20 "$out/$label.log"; echo "$label exited non-zero (log: $out/$label.log)"; }
echo "$label: $(( $(date +%s) - start )) s, load average now $(cut -d' ' -f1-3 /proc/loadavg) -> $out/runs/$label"
python3 - "$out/runs/$label/results.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
cols = ["accuracy", "macro_f1", "weighted_f1", "bleu4", "bertscore_f1", "repeated_trigrams", "post_words_used"]
for d in res["datasets"]:
    if d["status"] not in ("present", "embedded"):
        print(f"\n{d['name']}: not run ({d['status']})")
        continue
    print(f"\n{d['name']} ({d.get('modality', 'multimodal')}, protocol {d['protocol']}, test n={d['counts'].get('test')})")
    print(f"{'model':<24} " + " ".join(f"{c[:12]:>12}" for c in cols))
    for e in res["entries"]:
        if e["dataset"] != d["name"] or e.get("variant"):
            continue
        s = e["scores"]
        cell = lambda k: "-" if s.get(k) is None else f"{s[k] * (1 if 'bleu' in k else 100):.1f}"
        tag = " (text half)" if e.get("inputs") else ""
        print(f"{e['model'] + tag:<24} " + " ".join(f"{cell(k):>12}" for k in cols))
print("\nfailures:", [(f["what"], f.get("dataset"), f.get("model")) for f in res["failures"]])
print("skipped:", res["skipped"])
PY
