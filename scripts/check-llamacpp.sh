#!/usr/bin/env bash
# Does llama.cpp run the GGUF files `tensorledger convert` writes, and agree with us?
# Converts the fixture models (a Llama, a Qwen2, a Qwen3, an OLMo 2, a StableLM, a GPT-2,
# Gemma 1, 2 and 3, a Mixtral and a Qwen3-MoE, and a Phi-3 with Phi-3's own vocabulary) to GGUF Q8_0 and F32, loads each
# with llama.cpp (through llama-cpp-python, installed from PyPI when missing: it compiles
# llama.cpp from source, which takes minutes), and compares on several prompts:
# llama.cpp's tokens with ours, and its last-position logits with `tensorledger next`
# (top-1 identical, logits of our top 10 within a stated difference). Then every
# llama-quantize mix `convert --weights` writes, on tiny-llama (rows of 64 and 160, so each
# K type falls back as llama-quantize's rules say: Q4_0, Q5_0, Q5_1 or Q8_0) and on a
# Llama of its vocabulary with rows of 256 and 768 and random weights (the K types proper).
# Not part of CI (too slow to build there); its last output is in docs/LLAMACPP.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import llama_cpp" 2>/dev/null; then
  echo "Installing llama-cpp-python (builds llama.cpp from source; several minutes)..." >&2
  pip install -q llama-cpp-python >&2
fi
swift build -c release --product tensorledger >&2
tl=.build/release/tensorledger
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# tiny-phi3's vocabulary is too small for llama.cpp's SentencePiece loader (it looks up the
# byte token <0x0A>), so Phi-3 is its shape with Phi-3's real vocabulary and random weights.
python3 -c "import json, sys; c = json.load(open('fixtures/models/tiny-phi3/config.json')); c['vocab_size'] = 32064; json.dump(c, open(sys.argv[1], 'w'))" "$work/phi3.json"
"$tl" synth "$work/tiny-phi3-vocab" --config "$work/phi3.json" --tokenizer fixtures/vocab/ggml-vocab-phi-3.gguf >/dev/null
# llama.cpp's gemma2 scales scores by head_dim^-1/2 (it has no key for query_pre_attn_scalar),
# and `convert` refuses tiny-gemma2's 32; so its weights with the scalar set to its head_dim.
cp -r fixtures/models/tiny-gemma2 "$work/tiny-gemma2-16"
sed -i 's/"query_pre_attn_scalar": 32/"query_pre_attn_scalar": 16/' "$work/tiny-gemma2-16/config.json"
# A Llama whose rows are whole K super-blocks.
python3 -c "import json, sys; c = json.load(open('fixtures/models/tiny-llama/config.json')); c.update(hidden_size=256, intermediate_size=768, head_dim=64); json.dump(c, open(sys.argv[1], 'w'))" "$work/llama-256.json"
"$tl" synth "$work/llama-256" --config "$work/llama-256.json" --tokenizer fixtures/models/tiny-llama/tokenizer.json >/dev/null
files=()
# convert MODEL SCHEME...: the model (a fixture, or one made above) into one GGUF per scheme.
convert() {
  local model=$1 source="fixtures/models/$1"
  shift
  [ -d "$source" ] || source="$work/$model"
  for weights in "$@"; do
    "$tl" convert "$source" "$work/$model-$weights.gguf" --weights "$weights" >/dev/null
    files+=("$work/$model-$weights.gguf")
  done
}
for model in tiny-llama tiny-qwen2 tiny-qwen3 tiny-olmo2 tiny-stablelm tiny-genesis tiny-gemma tiny-gemma2-16 tiny-gemma3 tiny-mixtral tiny-qwen3-moe tiny-phi3-vocab; do
  convert "$model" q8 f32
done
for model in tiny-llama llama-256; do
  convert "$model" Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL
done
python3 - "$tl" "${files[@]}" <<'EOF'
import json, os, subprocess, sys
import numpy as np
from llama_cpp import Llama, llama_cpp

tl, paths = sys.argv[1], sys.argv[2:]
prompts = ["And God said", "In the beginning God created the heaven and the earth.",
           "And Abraham said unto his servant, Put thy hand under my thigh:", "Joseph"]
print(f"llama-cpp-python {__import__('llama_cpp').__version__}")
print(f"{'file':28} {'prompt':10} {'tokens':>7} {'top-1':>6} {'max |Δ| top 10':>15}")
failures = ties = 0
for path in paths:
    name = os.path.basename(path)
    llm = Llama(model_path=path, n_ctx=128, logits_all=True, verbose=False, n_threads=2)
    for i, prompt in enumerate(prompts):
        ours = json.loads(subprocess.run([tl, "next", path, "--prompt", prompt, "--top", "10", "--json"],
                                         check=True, capture_output=True).stdout)
        theirs_ids = llm.tokenize(prompt.encode(), add_bos=llm.metadata.get("tokenizer.ggml.add_bos_token") == "true", special=False)
        same_tokens = theirs_ids == ours["prompt_ids"]
        llm.reset()
        llm.eval(ours["prompt_ids"])
        logits = np.array(llm.scores[len(ours["prompt_ids"]) - 1])
        top1 = int(np.argmax(logits)) == ours["candidates"][0]["id"]
        # Our top-1 within 0.01 of llama.cpp's own top logit: a near tie, which two
        # implementations' rounding (Q8_0 activations above all) may order either way.
        tie = not top1 and logits.max() - logits[ours["candidates"][0]["id"]] < 0.01
        ties += tie
        diff = max(abs(logits[c["id"]] - c["logit"]) for c in ours["candidates"])
        failures += (not top1 and not tie) + (not same_tokens)
        print(f"{name:28} {'#' + str(i + 1):10} {'same' if same_tokens else 'DIFFER':>7} "
              f"{'same' if top1 else 'tie' if tie else 'DIFFER':>6} {diff:15.2e}")
print(("all tokens identical, top-1 identical" + (f" but for {ties} near tie{'s' if ties != 1 else ''} (within 0.01 in llama.cpp's logits)" if ties else ""))
      if failures == 0 else f"{failures} disagreements")
sys.exit(1 if failures else 0)
EOF
