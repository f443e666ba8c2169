#!/usr/bin/env bash
# Ours beside llama.cpp on the same GGUF files, runs interleaved, the same prompt length:
#   benchmarks/compare-llamacpp.sh FILE.gguf...      (ROUNDS=3 THREADS=2 REPS=5 by default)
# Each line: our prompt and decode speeds (`run`'s stats line: a prompt of REPS sentences,
# 64 tokens decoded greedily), then llama.cpp's (llama-cpp-python, timed around
# Llama.eval on the same number of prompt tokens, then 64 single-token evals after them:
# both decode with the prompt in the cache, which costs more as prompts grow), then ours
# over llama.cpp's for each.
# Needs a release build (`swift build -c release`) and `pip install llama-cpp-python numpy`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/tensorledger
ROUNDS=${ROUNDS:-3} THREADS=${THREADS:-2} REPS=${REPS:-5}
PROMPT="$(for _ in $(seq "$REPS"); do printf 'the quick brown fox jumps over the lazy dog and '; done)"
LLAMA='
import sys, time
from llama_cpp import Llama
path, threads, n_prompt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llm = Llama(model_path=path, n_ctx=max(512, n_prompt + 80), n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
ids = [(i * 37 + 11) % 800 + 3 for i in range(n_prompt)]
t0 = time.perf_counter(); llm.eval(ids); t1 = time.perf_counter()
for i in range(64):
    llm.eval([(i * 53 + 7) % 800 + 3])
t2 = time.perf_counter()
print(f"llama.cpp prompt {n_prompt / (t1 - t0):.1f} decode {64 / (t2 - t1):.1f}")
'
for _ in $(seq "$ROUNDS"); do
  for f in "$@"; do
    line=$("$BIN" run "$f" -p "$PROMPT" -n 64 --temperature 0 --threads "$THREADS" --ignore-eos 2>&1 >/dev/null | tail -1)
    n=$(sed -E 's/.*prompt ([0-9]+) tokens.*/\1/' <<<"$line")
    ours=$(sed -E 's/.*prompt ([0-9]+) tokens, ([0-9.]+) tokens\/s; generation [0-9]+ tokens, ([0-9.]+) tokens\/s.*/ours prompt \2 decode \3/' <<<"$line")
    theirs=$(python3 -c "$LLAMA" "$f" "$THREADS" "$n")
    ratios=$(awk '{ printf "prompt %.2f× decode %.2f×", $3 / $8, $5 / $10 }' <<<"$ours $theirs")
    echo "$(basename "$f") ($n prompt tokens): $ours | $theirs | ours / llama.cpp: $ratios"
  done
done
