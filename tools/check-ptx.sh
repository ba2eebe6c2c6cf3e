#!/usr/bin/env bash
# CI check of the committed PTX: regenerates it from kernels.cu and fails when the committed file differs
# (stale), then assembles it with ptxas for sm_80 and sm_90 so syntax and resource errors surface without a GPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
committed="$root/src/Kernels/Cuda/kernels.ptx"
command -v ptxas >/dev/null || { echo "check-ptx: ptxas not found; install nvidia-cuda-toolkit (Debian non-free)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$root/tools/build-ptx.sh" "$tmp/kernels.ptx" >/dev/null
if ! cmp -s "$tmp/kernels.ptx" "$committed"; then
    echo "check-ptx: src/Kernels/Cuda/kernels.ptx is stale: run tools/build-ptx.sh and commit the result" >&2
    diff -u "$committed" "$tmp/kernels.ptx" | head -40 >&2 || true
    exit 1
fi
echo "check-ptx: committed PTX matches kernels.cu"
known="$(ptxas --help 2>/dev/null | tr -c 'a-z0-9_' '\n' | grep -E '^sm_[0-9]+a?$' | sort -u | tr '\n' ' ')"
run=()
fallback=0
for arch in sm_80 sm_90; do
    if grep -qw "$arch" <<<"$known"; then run+=("$arch"); else
        echo "check-ptx: this ptxas ($(ptxas --version | grep -o 'release [0-9.]*')) does not know $arch"
        fallback=1
    fi
done
if [ "$fallback" = 1 ]; then
    for arch in sm_86 sm_87; do
        if grep -qw "$arch" <<<"$known"; then run+=("$arch"); echo "check-ptx: also checking $arch"; fi
    done
fi
for arch in "${run[@]}"; do
    ptxas -arch="$arch" -O3 --warn-on-spills -o "$tmp/kernels.$arch.cubin" "$committed"
    echo "check-ptx: ptxas $arch ok"
done
