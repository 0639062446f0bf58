#!/usr/bin/env bash
# The main job: installs what it needs, builds the trainers in release mode, then trains a tiny BLIP-2 on the
# built-in procedural dataset — pretraining of the frozen ViT and LM, stage 1 (ITC + ITM + ITG), stage 2 (LM loss
# through the frozen LM) — and prints held-out retrieval numbers and generated captions.
#   ./run.sh                       # 9-minute training budget (about 10 minutes with the build on 2 cores)
#   MINUTES=12 ./run.sh --data DIR # any blip2-train `all` option passes through (see --help)
set -euo pipefail
cd "$(dirname "$0")"
Tools/install_deps.sh
swift build -c release --product blip2-train
"$(swift build -c release --show-bin-path)/blip2-train" all --out "${OUT:-runs/tiny}" --minutes "${MINUTES:-9}" "$@"
