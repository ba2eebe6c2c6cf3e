#!/usr/bin/python3
"""Writes tests/fixtures/lora_layer.safetensors: one post-LN BERT encoder layer with LoRA on query, value and
intermediate.dense, built in plain PyTorch with Hugging Face / PEFT parameter names, plus its input, padding mask,
output and gradients (input and every LoRA matrix) for a fixed upstream gradient.

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/make_lora_layer_fixture.py
"""
import math

import torch
import torch.nn.functional as F

from fixture_io import write_fixture

HIDDEN, HEADS, INTER, BATCH, SEQ = 16, 4, 32, 2, 5
RANK, ALPHA = 4, 8.0
SCALE = ALPHA / RANK
EPS = 1e-12
LORA_TARGETS = ("attention.self.query", "attention.self.value", "intermediate.dense")
LINEARS = {
    "attention.self.query": (HIDDEN, HIDDEN),
    "attention.self.key": (HIDDEN, HIDDEN),
    "attention.self.value": (HIDDEN, HIDDEN),
    "attention.output.dense": (HIDDEN, HIDDEN),
    "intermediate.dense": (HIDDEN, INTER),
    "output.dense": (INTER, HIDDEN),
}

torch.manual_seed(1234)
params = {}
for name, (fan_in, fan_out) in LINEARS.items():
    prefix = name + ".base_layer" if name in LORA_TARGETS else name
    params[prefix + ".weight"] = torch.randn(fan_out, fan_in) * 0.2
    params[prefix + ".bias"] = torch.randn(fan_out) * 0.1
    if name in LORA_TARGETS:
        params[name + ".lora_A.weight"] = (torch.rand(RANK, fan_in) * 2 - 1) / math.sqrt(fan_in)
        # B is nonzero so that gradients reach A as well.
        params[name + ".lora_B.weight"] = torch.randn(fan_out, RANK) * 0.3
for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
    params[ln + ".weight"] = 1 + torch.randn(HIDDEN) * 0.1
    params[ln + ".bias"] = torch.randn(HIDDEN) * 0.1
for name, p in params.items():
    p.requires_grad_("lora_" in name)

x = torch.randn(BATCH, SEQ, HIDDEN, requires_grad=True)
mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float32)
grad_output = torch.randn(BATCH, SEQ, HIDDEN)


def linear(name, t):
    if name in LORA_TARGETS:
        base = F.linear(t, params[name + ".base_layer.weight"], params[name + ".base_layer.bias"])
        return base + SCALE * F.linear(F.linear(t, params[name + ".lora_A.weight"]), params[name + ".lora_B.weight"])
    return F.linear(t, params[name + ".weight"], params[name + ".bias"])


def layer_norm(name, t):
    return F.layer_norm(t, (HIDDEN,), params[name + ".weight"], params[name + ".bias"], EPS)


def heads(t):
    return t.view(BATCH, SEQ, HEADS, HIDDEN // HEADS).transpose(1, 2)


q, k, v = (heads(linear("attention.self." + n, x)) for n in ("query", "key", "value"))
scores = q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // HEADS) + ((mask - 1) * 1e9)[:, None, None, :]
context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(BATCH, SEQ, HIDDEN)
h = layer_norm("attention.output.LayerNorm", x + linear("attention.output.dense", context))
out = layer_norm("output.LayerNorm", h + linear("output.dense", F.gelu(linear("intermediate.dense", h))))
out.backward(grad_output)

tensors = {"input": x, "attention_mask": mask, "grad_output": grad_output, "output": out, "grad.input": x.grad}
tensors.update({"param." + n: p for n, p in params.items()})
tensors.update({"grad." + n: p.grad for n, p in params.items() if p.grad is not None})

write_fixture(tensors, {"torch": torch.__version__, "rank": str(RANK), "alpha": str(ALPHA)}, "lora_layer.safetensors")
