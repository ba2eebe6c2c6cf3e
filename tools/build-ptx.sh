#!/usr/bin/env bash
# Compiles kernels.cu to PTX for compute_80 (JIT-compiled by the driver on Ampere, Ada and Hopper) and writes
# the file the Finetune.Kernels assembly embeds. Needs nvcc (Debian 12: nvidia-cuda-toolkit from non-free).
# Usage: tools/build-ptx.sh [output.ptx]   (default: src/Kernels/Cuda/kernels.ptx)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/src/Kernels/Cuda/kernels.ptx}"
command -v nvcc >/dev/null || { echo "build-ptx: nvcc not found; install nvidia-cuda-toolkit (Debian non-free)" >&2; exit 1; }
# nvcc 11.8 rejects Debian 12's gcc 12 as host compiler; clang-14 is one it accepts.
command -v clang-14 >/dev/null || { echo "build-ptx: clang-14 not found; apt-get install clang-14" >&2; exit 1; }
ccbin=(-ccbin clang-14)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Run from the root with a relative path so the PTX does not embed this checkout's absolute path.
(cd "$root" && nvcc "${ccbin[@]}" -ptx -arch=compute_80 -O3 -std=c++17 -o "$tmp/kernels.ptx" kernels.cu)
# nvcc stamps its build in a comment header; drop comment lines so the file depends only on the source and compiler version.
{
    echo "// Generated from kernels.cu by tools/build-ptx.sh with $(nvcc --version | grep -o 'release [0-9.]*'). Do not edit."
    grep -v '^//' "$tmp/kernels.ptx"
} > "$out"
echo "build-ptx: $(grep -c '^\.visible \.entry' "$out") kernels -> $out"
