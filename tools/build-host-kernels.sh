#!/usr/bin/env bash
# Builds the host device: kernels.cu compiled for the CPU with g++ through the shim header, plus a generated
# launcher table (one FT_KERNEL line per __global__ function), into one shared library the tests load.
# Usage: tools/build-host-kernels.sh [output.so]   (default: artifacts/host/libfinetune_hostcuda.so)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/artifacts/host/libfinetune_hostcuda.so}"
cxx="${CXX:-g++}"
command -v "$cxx" >/dev/null || { echo "build-host-kernels: $cxx not found; install g++ (apt-get install g++)" >&2; exit 1; }
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
grep -oE '__global__[[:space:]]+void[[:space:]]+[A-Za-z_][A-Za-z0-9_]*' "$root/kernels.cu" \
    | awk '{ print "FT_KERNEL(" $3 ")" }' > "$gen/host_launchers.inc"
[ -s "$gen/host_launchers.inc" ] || { echo "build-host-kernels: no __global__ kernels found in kernels.cu" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# -ffp-contract=off: no fused multiply-add, so results round like the CPU backend's separate operations.
"$cxx" -std=c++17 -O2 -g0 -fPIC -shared -ffp-contract=off -fno-fast-math -Wall -Wno-unused-function \
    -I "$root" -I "$gen" -o "$out.tmp.$$" "$root/src/Kernels/Cuda/Host/host_runtime.cpp"
mv -f "$out.tmp.$$" "$out"
echo "build-host-kernels: $(wc -l < "$gen/host_launchers.inc") kernels -> $out"
