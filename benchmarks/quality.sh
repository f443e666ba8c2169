#!/usr/bin/env bash
# The quality table of docs/PERFORMANCE.md: for each weight scheme and llama-quantize mix,
# the file's size, and against the f32 model on the same text its KL divergence, top-1
# agreement and perplexity (`perplexity --compare`). With llama-cpp-python installed, the
# same file made by llama.cpp's own quantizer (llama_model_quantize, from the F32 GGUF
# convert writes) is measured beside ours, and whether its tensors are ours byte for byte.
#
#   benchmarks/quality.sh [MODEL] [TEXT]    (default: the trained tiny-genesis and Genesis)
# tiny-genesis's rows of 128 make every K type fall back to a block of 32; for the K types
# themselves, train benchmarks/work/genesis-llama first (benchmarks/train-quality-model.py).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-fixtures/models/tiny-genesis}
text=${2:-fixtures/text/genesis.txt}
swift build -c release --product tensorledger >/dev/null
bin=.build/release/tensorledger
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
llamacpp=0
python3 -c "import llama_cpp, gguf" 2>/dev/null && llamacpp=1
[ "$llamacpp" = 1 ] && "$bin" convert "$model" "$work/f32.gguf" --weights f32 >/dev/null

ftype() {  # llama_ftype of a mix
  case $1 in IQ4_NL) echo 25;; Q4_0) echo 2;; Q4_1) echo 3;; Q8_0) echo 7;; Q5_0) echo 8;; Q5_1) echo 9;; Q2_K) echo 10;; Q3_K_S) echo 11;;
    Q3_K_M) echo 12;; Q3_K_L) echo 13;; Q4_K_S) echo 14;; Q4_K_M) echo 15;; Q5_K_S) echo 16;; Q5_K_M) echo 17;; Q6_K) echo 18;; esac
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

printf '| %-7s | %12s | %10s | %7s | %10s | %s |\n' scheme "file bytes" "mean KL" "top-1" perplexity "llama.cpp's file"
printf '|%s|%s|%s|%s|%s|%s|\n' --------- -------------- ------------ --------- ------------ ------------------
for scheme in f16 Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 IQ4_NL Q4_0 Q3_K_L Q3_K_M Q3_K_S Q2_K; do
  out="$work/$scheme.gguf"
  if ! "$bin" convert "$model" "$out" --weights "$scheme" >/dev/null 2>"$work/err"; then
    printf '| %-7s | %s |\n' "$scheme" "not written: $(cut -c1-90 "$work/err")"
    continue
  fi
  json=$("$bin" perplexity "$model" -f "$text" --compare "$out" --json)
  theirs=""
  if [ "$llamacpp" = 1 ] && [ -n "$(ftype "$scheme")" ]; then
    python3 - "$work/f32.gguf" "$work/ref.gguf" "$(ftype "$scheme")" <<'EOF' >/dev/null 2>&1
import ctypes, sys, llama_cpp
p = llama_cpp.llama_model_quantize_default_params(); p.ftype = int(sys.argv[3]); p.nthread = 2
sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))
EOF
    same=$(python3 - "$out" "$work/ref.gguf" <<'EOF'
import sys, gguf, numpy as np
a, b = (gguf.GGUFReader(p) for p in sys.argv[1:3])
tb = {t.name: t for t in b.tensors}
print(all(t.tensor_type == tb[t.name].tensor_type and np.array_equal(np.asarray(t.data).view(np.uint8).ravel(),
          np.asarray(tb[t.name].data).view(np.uint8).ravel()) for t in a.tensors) and len(a.tensors) == len(tb))
EOF
)
    kl=$("$bin" perplexity "$model" -f "$text" --compare "$work/ref.gguf" --json | field "['compare']['mean_kl']")
    theirs="KL $(printf '%.5f' "$kl"), tensors identical: $same"
  fi
  printf '| %-7s | %12s | %10.5f | %6.2f%% | %10.4f | %s |\n' "$scheme" "$(stat -c %s "$out")" \
    "$(echo "$json" | field "['compare']['mean_kl']")" "$(echo "$json" | field "['compare']['top1_agreement']*100")" \
    "$(echo "$json" | field "['compare']['perplexity']")" "$theirs"
done
echo "f32 perplexity: $("$bin" perplexity "$model" -f "$text" --json | field "['perplexity']")"
