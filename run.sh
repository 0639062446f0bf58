#!/usr/bin/env bash
# The main job: installs what it needs, builds graphc, and dumps a sample model as text, statistics and SVG.
# (The BLIP-2 trainers take this script over when they land.)
set -euo pipefail
cd "$(dirname "$0")"
Tools/install_deps.sh
swift build --product graphc
graphc="$(swift build --show-bin-path)/graphc"
model="${1:-transformer-block}"
config="${2:-tiny}"
mkdir -p out
"$graphc" dump "$model" --config "$config"
"$graphc" dump "$model" --config "$config" --stats
"$graphc" dump "$model" --config "$config" --format dot > "out/$model.dot"
dot -Tsvg "out/$model.dot" > "out/$model.svg"
echo "wrote out/$model.svg ($(wc -c < "out/$model.svg") bytes)"
