#!/usr/bin/env python3
"""Trains the model the K-quant rows of the quality table are measured on: a small Llama on
the Book of Genesis whose every matrix has rows of 256 or 768, so that Q2_K … Q6_K are
written as themselves. (The bundled tiny-genesis has rows of 128: every K type falls back
to Q4_0, Q5_0, Q5_1 or Q8_0 there, as in llama.cpp, so its table measures those blocks.)

Run from the repository root (about eight minutes on two cores):
    python3 benchmarks/train-quality-model.py [OUT]     (default benchmarks/work/genesis-llama)
then
    benchmarks/quality.sh benchmarks/work/genesis-llama
Needs: pip install torch transformers tokenizers safetensors

The tokenizer is tiny-genesis's (a byte-level BPE of 512 tokens). The model trains on
chapters 1-45 as tiny-genesis did; quality.sh measures on the whole book.
"""
import os
import shutil
import sys

import torch
import transformers
from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "fixtures", "scripts"))
import make_llama_fixtures  # noqa: E402 (its chapters of Genesis and its training loop)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "benchmarks", "work", "genesis-llama")
TOKENIZER = os.path.join(ROOT, "fixtures", "models", "tiny-genesis", "tokenizer.json")
N_CTX = make_llama_fixtures.N_CTX


def train_ids():
    return Tokenizer.from_file(TOKENIZER).encode("\n\n".join(make_llama_fixtures.chapters()[:45])).ids


def main():
    torch.manual_seed(1234)
    torch.set_num_threads(os.cpu_count() or 1)
    # Untied, so that the token embedding and the output matrix each take their own type in
    # the mixes (Q4_K_M: Q4_K and Q6_K), as in the 1B models people run.
    config = transformers.AutoConfig.for_model(
        "llama", vocab_size=512, hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=N_CTX, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, attention_dropout=0.0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    ids = train_ids()
    print(f"train tokens {len(ids)}, parameters {sum(p.numel() for p in model.parameters()):,}", flush=True)
    make_llama_fixtures.train(model, ids, steps=800, lr=2e-3)
    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    generation = os.path.join(OUT, "generation_config.json")
    if os.path.exists(generation):
        os.remove(generation)
    shutil.copy(TOKENIZER, os.path.join(OUT, "tokenizer.json"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
