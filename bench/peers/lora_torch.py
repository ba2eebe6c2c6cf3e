#!/usr/bin/env python3
"""PyTorch peer for the LoRA layer benchmark: the layer computed the way Hugging Face PEFT's lora.Linear does,
result = base_layer(x) + lora_B(lora_A(lora_dropout(x))) * scaling, with the base frozen and x requiring grad.

Protocol (one JSON object per line, so the C# side can interleave its runs shape by shape):
  stdin line 1: {"threads": N}
  stdin line k: {"tokens": T, "hidden": H, "rank": r, "dropout": p, "reps": R}
  stdout line 1: {"ok": true, "torch": version, "blas": "...", "threads": N}   (or {"ok": false, "error": ...})
  stdout line k: {"fwd_ms": median, "bwd_ms": median, "step_ms": median of forward + backward}
"""
import time

from gemm_torch import serve


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure(torch, c):
    t, h, r, p = c["tokens"], c["hidden"], c["rank"], c["dropout"]
    reps = max(3, int(c.get("reps", 5)))
    torch.manual_seed(0)
    base = torch.nn.Linear(h, h)
    base.requires_grad_(False)
    lora_a = torch.nn.Linear(h, r, bias=False)
    lora_b = torch.nn.Linear(r, h, bias=False)
    torch.nn.init.normal_(lora_b.weight, std=0.02)
    drop = torch.nn.Dropout(p)
    scaling = 16.0 / r
    x = torch.randn(t, h, requires_grad=True)
    g = torch.randn(t, h)

    def forward():
        return base(x) + lora_b(lora_a(drop(x))) * scaling

    fwd, bwd, step = [], [], []
    for i in range(reps + 2):
        t0 = time.perf_counter()
        y = forward()
        t1 = time.perf_counter()
        y.backward(g)
        t2 = time.perf_counter()
        x.grad = None
        lora_a.weight.grad = None
        lora_b.weight.grad = None
        if i >= 2:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            step.append(t2 - t0)
    return {"fwd_ms": median(fwd) * 1e3, "bwd_ms": median(bwd) * 1e3, "step_ms": median(step) * 1e3}


if __name__ == "__main__":
    serve(measure)
