#!/bin/sh
# Tokens/s and peak RSS of llmtune's training step beside PyTorch's
# (../shared/ref/bench_train.py), 124M config, batch 4 x 128, 2 threads, full
# and LoRA r8, measured in alternation (Go, Python, Go, Python...) because
# the machine is shared and noisy; `uptime` is recorded with every run.
#   internal/train/bench_compare.sh MODEL_DIR [ROUNDS] > results.txt
# MODEL_DIR: a 124M model for PyTorch, e.g. from
#   /usr/bin/python3 ../shared/ref/make_model.py --config 124m --seed 0 --out /tmp/m124
set -eu
model=${1:?usage: bench_compare.sh MODEL_DIR [ROUNDS]}
rounds=${2:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
ref=${LLMTUNE_SHARED:-$root/../shared}/ref/bench_train.py
tags=
if printf 'int main(void){return 0;}' | cc -x c - -lopenblas -o /dev/null >/dev/null 2>&1; then tags=openblas; fi
bin=$(mktemp -d)/train.test
(cd "$root" && go test -c -tags "$tags" -o "$bin" ./internal/train/)
export OPENBLAS_NUM_THREADS=2 GOMAXPROCS=2
for r in $(seq "$rounds"); do
	for mode in full lora_r8; do
		echo "== round $r $mode go    $(uptime)"
		"$bin" -test.run '^$' -test.bench "Train/$mode\$" -test.benchtime 6x -test.benchmem | grep Benchmark
		lora=0; [ "$mode" = full ] || lora=8
		echo "== round $r $mode torch $(uptime)"
		/usr/bin/python3 "$ref" --model "$model" --batch 4 --seq 128 --steps 8 --threads 2 --lora "$lora"
	done
done
echo "== lora_r8 with DP-SGD (go only) $(uptime)"
"$bin" -test.run '^$' -test.bench 'Train/lora_r8_dp$' -test.benchtime 6x -test.benchmem | grep Benchmark
echo "== sgemm $(uptime)"
(cd "$root" && go test -tags "$tags" -run '^$' -bench Sgemm ./internal/blas/ | grep Benchmark)
