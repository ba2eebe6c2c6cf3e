#!/usr/bin/env python3
"""PyTorch peer for the GEMM benchmark.

Protocol (one JSON object per line, so the C# side can interleave its own runs shape by shape):
  stdin line 1: {"threads": N}
  stdin line k: {"m": .., "n": .., "k": .., "transA": bool, "transB": bool, "reps": R}
  stdout line 1: {"ok": true, "torch": version, "blas": "...", "threads": N}   (or {"ok": false, "error": ...})
  stdout line k: {"gflops": median GFLOP/s, "ms": median ms}
Can also run standalone: gemm_torch.py --threads 2 --shapes '[{"m":512,"n":512,"k":512}]'
"""
import json
import os
import sys
import time


def blas_info():
    # torch reaches OpenBLAS through libblas.so.3; ask the loaded library which kernel it picked.
    try:
        import ctypes
        libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l and l.split()[-1].startswith("/")})
        for path in libs:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_corename"):
                lib.openblas_get_corename.restype = ctypes.c_char_p
                lib.openblas_get_config.restype = ctypes.c_char_p
                return "%s (core %s, %d threads)" % (lib.openblas_get_config().decode(), lib.openblas_get_corename().decode(), lib.openblas_get_num_threads())
    except Exception as e:  # noqa: BLE001 - informational only
        return "unknown (%s)" % e
    return "not OpenBLAS"


def setup(threads):
    # The BLAS thread pool reads these at load time, so set them before importing torch.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import torch
    torch.set_num_threads(threads)
    return torch


def measure(torch, shape):
    m, n, k = shape["m"], shape["n"], shape["k"]
    ta, tb = shape.get("transA", False), shape.get("transB", False)
    batch = int(shape.get("batch", 1))
    reps = max(3, int(shape.get("reps", 10)))
    g = torch.Generator().manual_seed(0)
    # Store A as k×m when transposed and pass the transposed view, as the engine's caller would; batch > 1 is a bmm.
    lead = (batch,) if batch > 1 else ()
    a = torch.rand(lead + ((k, m) if ta else (m, k)), generator=g) * 2 - 1
    b = torch.rand(lead + ((n, k) if tb else (k, n)), generator=g) * 2 - 1
    a_op = a.transpose(-1, -2) if ta else a
    b_op = b.transpose(-1, -2) if tb else b
    out = torch.empty(lead + (m, n))
    for _ in range(3):
        torch.matmul(a_op, b_op, out=out)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.matmul(a_op, b_op, out=out)
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    return {"gflops": 2.0 * m * n * k * batch / med / 1e9, "ms": med * 1e3}


def main():
    if len(sys.argv) > 1:
        threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
        shapes = json.loads(sys.argv[sys.argv.index("--shapes") + 1]) if "--shapes" in sys.argv else []
        torch = setup(threads)
        print(json.dumps([dict(s, **measure(torch, s)) for s in shapes]))
        return
    serve(measure)


def serve(measure):
    """The JSON-lines loop every long-lived peer speaks (see the module doc): hello, then one answer per question."""
    config = json.loads(sys.stdin.readline())
    threads = int(config.get("threads", 2))
    try:
        torch = setup(threads)
    except Exception as e:  # noqa: BLE001 - reported to the caller, which still prints its own numbers
        print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}), flush=True)
        return
    print(json.dumps({"ok": True, "torch": torch.__version__, "blas": blas_info(), "threads": torch.get_num_threads(),
                      "python": sys.executable}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(measure(torch, json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
