#!/usr/bin/env bash
# make demo: the whole pipeline (prepare -> train -> eval + privacy audit) on
# the embedded sample, with a freshly initialised small GPT-2, offline.
set -euo pipefail
BIN=${1:-bin/llmtune}
OUT=${DEMO_DIR:-demo-out}
rm -rf "$OUT"
mkdir -p "$OUT"
chmod 700 "$OUT"
cat > "$OUT/llmtune.yaml" <<YAML
# Written by scripts/demo.sh; see 'llmtune init' for every setting.
workdir: $OUT/work
prepare:
  inputs: [testdata/sample]
  val: 0.1
  test: 0.1
  seed: 1
  anonymize: true
  canaries: "4,8"
train:
  init: gpt2-tiny
  steps: 120
  batch: 8
  seq: 128
  lr: 0.002
  schedule: cosine
  warmup: 20
  checkpoint_every: 100
  val_every: 50
eval:
  split: test
  samples: 8
  candidates: 1000
  audit: true
YAML
echo "== llmtune run --config $OUT/llmtune.yaml"
set +e
"$BIN" run --config "$OUT/llmtune.yaml"
rc=$?
set -e
if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then
  echo "demo: llmtune run failed with exit code $rc" >&2
  exit $rc
fi
echo
echo "== a second run finds nothing new (exit code 3 keeps cron quiet)"
set +e
"$BIN" run --config "$OUT/llmtune.yaml" -q
echo "exit code: $?"
set -e
report=$(ls "$OUT"/work/runs/*/eval/report.html 2>/dev/null | head -1)
echo
echo "Prepared data:   $OUT/work/prepared (manifest.json, anonymization.json)"
echo "Runs:            $OUT/work/runs (current -> the promoted run)"
echo "Pipeline log:    $OUT/work/log.jsonl"
[ -n "$report" ] && echo "Report:          $report (open it in a browser; it works offline)"
