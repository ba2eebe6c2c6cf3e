#!/usr/bin/env bash
# One prepared GPU run. Here (with the .NET SDK) it publishes self-contained, trimmed finetune-gpu-check and
# finetune-gpu-step into artifacts/gpu-run (with the PyTorch peer scripts; under 64 MiB, checked). On the GPU machine
# (no SDK, no network) it runs, in one call of a few minutes: gpu-check (kernel parity and bandwidth table), then
# training-step timings of a MiniLM-shape and a BERT-base-shape (12 layers, hidden 768) model on random weights with
# LoRA and full fine-tuning, then the same steps in PyTorch + Hugging Face PEFT on the same GPU, and prints one table
# (ours, theirs, ratio). Every result is written under $OUT (default artifacts/gpu-run-out).
#
# Usage:
#   tools/gpu-run.sh --prepare   publish the payload here (needs the .NET SDK and the NuGet cache)
#   tools/gpu-run.sh             run on the GPU machine (the payload travels with the tree: carry artifacts/gpu-run)
#   tools/gpu-run.sh --host      the dry run here: prepare, then the whole run on the host device with tiny batches
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
payload="$root/artifacts/gpu-run"
out="${OUT:-$root/artifacts/gpu-run-out}"
limit_bytes=$((64 * 1024 * 1024))
mode=gpu
case "${1:-}" in
    --prepare) mode=prepare ;;
    --host) mode=host ;;
    "") ;;
    *) echo "usage: tools/gpu-run.sh [--prepare | --host]" >&2; exit 64 ;;
esac

prepare() {
    command -v dotnet >/dev/null || { echo "gpu-run: --prepare needs the .NET SDK (dotnet); on the GPU machine run without arguments" >&2; exit 2; }
    local tmp="$payload.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp/peers"
    # Both tools link the engine's libraries, whose JSON and resource code is not trim-annotated: trim the framework only
    # and keep the trim and single-file analyzers from failing the build; the dry run exercises what they run.
    local common=(-c Release -r linux-x64 --self-contained true -p:PublishTrimmed=true -p:TrimMode=full -p:PublishSingleFile=true
        -p:DebugType=none -p:EnableCompressionInSingleFile=true -p:SuppressTrimAnalysisWarnings=true -p:EnableTrimAnalyzer=false
        -p:EnableSingleFileAnalyzer=false -p:TreatWarningsAsErrors=false)
    for tool in GpuCheck GpuStep; do
        dotnet publish "$root/tools/$tool/$tool.csproj" "${common[@]}" -o "$tmp/$tool" >&2
    done
    cp "$root/bench/peers/gpu_step_torch.py" "$root/bench/peers/bert_step_torch.py" "$tmp/peers/"
    # The host device's kernels, for the dry run (tools/build-host-kernels.sh; built with the CLI when g++ is there).
    [ -f "$root/artifacts/host/libfinetune_hostcuda.so" ] || "$root/tools/build-host-kernels.sh" >&2
    cp "$root/artifacts/host/libfinetune_hostcuda.so" "$tmp/"
    cp "$root/artifacts/host/libfinetune_hostcuda.so" "$tmp/GpuStep/"   # --device host looks beside the program
    local bytes
    bytes=$(du -sb "$tmp" | cut -f1)
    if [ "$bytes" -ge "$limit_bytes" ]; then
        echo "gpu-run: the payload is $((bytes / 1048576)) MiB, over the 64 MiB a GPU run can carry" >&2
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$payload"
    mv "$tmp" "$payload"
    echo "gpu-run: payload $payload ($((bytes / 1048576)) MiB of 64): carry artifacts/gpu-run and run tools/gpu-run.sh on the GPU machine"
}

# run DEVICE BATCH SEQ REPS CHECK_ARGS...: every measurement, each bounded by a timeout so one hang cannot eat the call.
run() {
    local device="$1" batch="$2" seq="$3" reps="$4"
    shift 4
    [ -x "$payload/GpuStep/finetune-gpu-step" ] || { echo "gpu-run: no payload in $payload: run tools/gpu-run.sh --prepare where the .NET SDK is, and carry artifacts/gpu-run" >&2; exit 2; }
    mkdir -p "$out"
    : > "$out/steps.jsonl"
    : > "$out/peer.jsonl"
    local status=0
    echo "== gpu-check $*" | tee "$out/gpu-check.txt"
    timeout 240 "$payload/GpuCheck/finetune-gpu-check" "$@" 2>&1 | tee -a "$out/gpu-check.txt" || status=$?
    echo "gpu-check exit code $status" | tee -a "$out/gpu-check.txt"
    for shape in minilm bert-base; do
        for method in lora full; do
            echo "== step $shape $method, batch $batch x $seq tokens on $device"
            timeout 150 "$payload/GpuStep/finetune-gpu-step" --shape "$shape" --method "$method" --batch "$batch" --seq "$seq" \
                --reps "$reps" --device "$device" | tee -a "$out/steps.jsonl" || status=$?
            timeout 150 /usr/bin/python3 "$payload/peers/gpu_step_torch.py" "$shape" "$method" "$batch" "$seq" "$reps" \
                | tee -a "$out/peer.jsonl" || echo "gpu-run: the PyTorch peer failed for $shape $method" >&2
        done
    done
    /usr/bin/python3 - "$out" <<'PY' | tee "$out/table.md"
import json, sys
out = sys.argv[1]
ours = {(r["shape"], r["method"]): r for r in map(json.loads, open(f"{out}/steps.jsonl")) }
peer = {(r["shape"], r["method"]): r for r in map(json.loads, open(f"{out}/peer.jsonl")) }
first = next(iter(ours.values()), None)
if first: print(f"Training step, batch {first['batch']} x {first['seq']} tokens, random weights. Ours on {first['device']}.")
names = sorted({r["peer"] for r in peer.values()})
if names: print("Peer: " + "; ".join(names) + f" on {next(iter(peer.values()))['device']}.")
print()
print("| model shape | method | ours (ms) | PyTorch + PEFT (ms) | ours / theirs |")
print("|---|---|---:|---:|---:|")
for key in [(s, m) for s in ("minilm", "bert-base") for m in ("lora", "full")]:
    o, p = ours.get(key), peer.get(key)
    mine = f"{o['step_ms']:.1f}" if o else "failed"
    theirs = f"{p['step_ms']:.1f}" if p else "failed"
    ratio = f"{o['step_ms'] / p['step_ms']:.2f}x" if o and p else "-"
    print(f"| {key[0]} | {key[1]} | {mine} | {theirs} | {ratio} |")
PY
    echo "gpu-run: results in $out (gpu-check.txt, steps.jsonl, peer.jsonl, table.md)"
    return "$status"
}

case "$mode" in
    prepare) prepare ;;
    host)
        prepare
        run host 2 16 1 --host "$payload/libfinetune_hostcuda.so" --scale 0.01 --iterations 1
        ;;
    gpu) run cuda 32 128 10 ;;
esac
