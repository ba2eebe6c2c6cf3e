#!/usr/bin/env bash
# Publishes gpu-check as a self-contained, trimmed linux-x64 executable (no .NET SDK or runtime needed on the
# GPU machine; the NVIDIA driver and libcublas must be there) and fails if the folder exceeds 60 MB.
# Usage: tools/publish-gpu-check.sh [output-dir]   (default: artifacts/gpu-check)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/artifacts/gpu-check}"
rm -rf "$out"
dotnet publish "$root/tools/GpuCheck/GpuCheck.csproj" -c Release -r linux-x64 --self-contained true \
    -p:PublishTrimmed=true -p:TrimMode=full -p:PublishSingleFile=true -p:DebugType=none \
    -p:EnableCompressionInSingleFile=true -o "$out" >&2
size_mb=$(( $(du -sb "$out" | cut -f1) / 1000000 ))
echo "publish-gpu-check: $out ($size_mb MB): copy it to the GPU machine and run $out/finetune-gpu-check"
if [ "$size_mb" -ge 60 ]; then
    echo "publish-gpu-check: $size_mb MB exceeds the 60 MB limit" >&2
    exit 1
fi
