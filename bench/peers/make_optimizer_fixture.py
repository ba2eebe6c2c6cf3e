#!/usr/bin/python3
"""Writes tests/fixtures/optimizers.json: torch.optim.AdamW and SGD trajectories on fixed gradients.

Run with Debian's python3-torch: /usr/bin/python3 bench/peers/make_optimizer_fixture.py
"""
import json
import os
import torch

torch.manual_seed(0)
weight0 = torch.randn(3, 4)
bias0 = torch.randn(4)
grads = [(torch.randn(3, 4), torch.randn(4)) for _ in range(4)]


def run(make):
    w = weight0.clone().requires_grad_(True)
    b = bias0.clone().requires_grad_(True)
    opt = make(w, b)
    traj = []
    for gw, gb in grads:
        w.grad = gw.clone()
        b.grad = gb.clone()
        opt.step()
        traj.append({"weight": w.detach().flatten().tolist(), "bias": b.detach().flatten().tolist()})
    return traj


cases = {
    # Decay on the matrix only, as the engine's default rule does.
    "adamw": run(lambda w, b: torch.optim.AdamW([{"params": [w], "weight_decay": 0.1},
                                                 {"params": [b], "weight_decay": 0.0}],
                                                lr=0.01, betas=(0.9, 0.98), eps=1e-6)),
    "sgd_momentum": run(lambda w, b: torch.optim.SGD([w, b], lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": run(lambda w, b: torch.optim.SGD([w, b], lr=0.1, momentum=0.9, nesterov=True)),
}

fixture = {
    "torch": torch.__version__,
    "weight0": weight0.flatten().tolist(),
    "bias0": bias0.tolist(),
    "grads": [{"weight": gw.flatten().tolist(), "bias": gb.tolist()} for gw, gb in grads],
    "cases": cases,
}
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "optimizers.json")
with open(out, "w") as f:
    json.dump(fixture, f, indent=1)
print("wrote", os.path.normpath(out))
