#!/usr/bin/env bash
# Installs the Debian 12 packages graphc needs, only those missing (sudo only when not root).
#   OpenBLAS + LAPACKE (GEMMs, solves), libpng + libjpeg (image decoding), Graphviz (`dot` renders dumps),
#   python3-pip + unzip (Tools/fetch_assets.sh downloads test assets).
set -euo pipefail
packages=(libopenblas-dev liblapacke-dev libpng-dev libjpeg-dev graphviz python3-pip unzip)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install_deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
