#!/usr/bin/env bash
# llama.cpp's tokenizer vectors for every vocabulary in its models/ folder, through
# `tensorledger tokenize`: per vocabulary, how many of its inputs give llama.cpp's ids (taken
# from Hugging Face's tokenizers), or why it is refused. The vocabularies too large for
# fixtures/ (Llama 3's, Qwen2's, Command-R's, Gemma 4's, …) are checked here, by hand.
#   scripts/check-vocab-vectors.sh [MODELS_DIR]
# Without MODELS_DIR, llama-cpp-python 0.3.36's source distribution (which vendors llama.cpp)
# is fetched from PyPI into .build/llama-cpp-src. Needs python3 and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-}"
if [ -z "$dir" ]; then
  src=.build/llama-cpp-src
  if [ ! -d "$src/models" ]; then
    mkdir -p "$src"
    url=$(curl -fsS https://pypi.org/simple/llama-cpp-python/ | grep -o 'https://[^"#]*llama_cpp_python-0\.3\.36\.tar\.gz' | head -1)
    curl -fsS "$url" | tar xz -C "$src" --strip-components=3 llama_cpp_python-0.3.36/vendor/llama.cpp/models
  fi
  dir="$src/models"
fi
swift build -c release --product tensorledger >&2
python3 - "$dir" .build/release/tensorledger <<'PY'
import json, os, subprocess, sys
models, tl = sys.argv[1], sys.argv[2]
for name in sorted(f[:-len(".inp")] for f in os.listdir(models) if f.startswith("ggml-vocab-") and f.endswith(".gguf.inp")):
    path = os.path.join(models, name)
    inputs = open(path + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
    outputs = open(path + ".out").read().split("\n")
    same, differing, refused = 0, [], None
    for text, expected in zip(inputs, outputs):
        ids = [int(x) for x in expected.split()]
        r = subprocess.run([tl, "tokenize", path, "--text", text, "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            try: refused = json.loads(r.stderr)["error"]
            except (ValueError, KeyError): refused = r.stderr.strip()
            refused = refused.split(" (")[0].split(": ", 1)[-1]
            break
        got = json.loads(r.stdout)["ids"]
        if got[1:] == ids and got[:1] != ids[:1]:
            got = got[1:]  # the BOS the vectors leave out
        if got == ids: same += 1
        else: differing.append(text)
    verdict = f"refused: {refused}" if refused else f"{same}/{len(inputs)} as llama.cpp" + (f"; first differing: {differing[0]!r}" if differing else "")
    print(f"{name:34s} {verdict}")
PY
