#!/usr/bin/python3
"""Writes tests/fixtures/peft_layer.safetensors: one pre-LN (ViT-style) encoder layer carrying every hook a PEFT
method uses, built in plain PyTorch with this engine's parameter names: DoRA on query (PEFT's formula, weight norm
detached), IA3 on key (output) and output.dense (input), LoRA on value, a 3-row key/value prefix, a Houlsby adapter
on the attention output and a parallel GELU adapter (scale 4) beside the FFN. Saves weights, input, padding mask,
output and the gradients of the input and of every trainable tensor for a fixed upstream gradient.

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/make_peft_layer_fixture.py
"""
import math

import torch
import torch.nn.functional as F

from fixture_io import write_fixture

HIDDEN, HEADS, INTER, BATCH, SEQ = 16, 4, 32, 2, 5
RANK, ALPHA, PREFIX, BOTTLENECK = 4, 8.0, 3, 4
SCALE = ALPHA / RANK
EPS = 1e-12

torch.manual_seed(4321)
params, trainable = {}, set()


def add(name, tensor, train=False):
    params[name] = tensor
    if train:
        trainable.add(name)


def base_linear(prefix, fan_in, fan_out):
    add(prefix + ".weight", torch.randn(fan_out, fan_in) * 0.2)
    add(prefix + ".bias", torch.randn(fan_out) * 0.1)


for name in ("query", "value"):
    base_linear(f"attention.self.{name}.base_layer", HIDDEN, HIDDEN)
    add(f"attention.self.{name}.lora_A.weight", (torch.rand(RANK, HIDDEN) * 2 - 1) / math.sqrt(HIDDEN), True)
    add(f"attention.self.{name}.lora_B.weight", torch.randn(HIDDEN, RANK) * 0.3, True)
w_q = params["attention.self.query.base_layer.weight"]
add("attention.self.query.lora_magnitude_vector", w_q.norm(dim=1) * (1 + torch.randn(HIDDEN) * 0.1), True)
base_linear("attention.self.key.base_layer", HIDDEN, HIDDEN)
add("attention.self.key.ia3_l", 1 + torch.randn(HIDDEN) * 0.2, True)
base_linear("attention.output.dense", HIDDEN, HIDDEN)
base_linear("intermediate.dense", HIDDEN, INTER)
base_linear("output.dense.base_layer", INTER, HIDDEN)
add("output.dense.ia3_l", 1 + torch.randn(INTER) * 0.2, True)
for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
    add(ln + ".weight", 1 + torch.randn(HIDDEN) * 0.1)
    add(ln + ".bias", torch.randn(HIDDEN) * 0.1)
# One layer: the table's row is [keys (hidden) | values (hidden)].
add("prefix_encoder.embedding.weight", torch.randn(PREFIX, 2 * HIDDEN) * 0.5, True)
for adapter in ("attention_adapter", "output_adapter"):
    add(adapter + ".down.weight", torch.randn(BOTTLENECK, HIDDEN) * 0.3, True)
    add(adapter + ".down.bias", torch.randn(BOTTLENECK) * 0.1, True)
    add(adapter + ".up.weight", torch.randn(HIDDEN, BOTTLENECK) * 0.3, True)
    add(adapter + ".up.bias", torch.randn(HIDDEN) * 0.1, True)
for name, p in params.items():
    p.requires_grad_(name in trainable)
P = params

x = torch.randn(BATCH, SEQ, HIDDEN, requires_grad=True)
mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float32)
grad_output = torch.randn(BATCH, SEQ, HIDDEN)


def lora(name, t, dora=False):
    w, b = P[name + ".base_layer.weight"], P[name + ".base_layer.bias"]
    delta = SCALE * F.linear(F.linear(t, P[name + ".lora_A.weight"]), P[name + ".lora_B.weight"])
    if not dora:
        return F.linear(t, w, b) + delta
    weight_norm = (w + SCALE * P[name + ".lora_B.weight"] @ P[name + ".lora_A.weight"]).norm(dim=1).detach()
    mag_norm_scale = (P[name + ".lora_magnitude_vector"] / weight_norm).view(1, -1)
    return F.linear(t, w, b) + (mag_norm_scale - 1) * F.linear(t, w) + mag_norm_scale * delta


def linear(name, t):
    return F.linear(t, P[name + ".weight"], P[name + ".bias"])


def layer_norm(name, t):
    return F.layer_norm(t, (HIDDEN,), P[name + ".weight"], P[name + ".bias"], EPS)


def adapter(name, z, act):
    return linear(name + ".up", act(linear(name + ".down", z)))


def heads(t, length):
    return t.view(BATCH, length, HEADS, HIDDEN // HEADS).transpose(1, 2)


n1 = layer_norm("attention.output.LayerNorm", x)
q = lora("attention.self.query", n1, dora=True)
k = F.linear(n1, P["attention.self.key.base_layer.weight"], P["attention.self.key.base_layer.bias"]) * P["attention.self.key.ia3_l"]
v = lora("attention.self.value", n1)
table = P["prefix_encoder.embedding.weight"]
k = torch.cat([table[:, :HIDDEN].expand(BATCH, PREFIX, HIDDEN), k], 1)
v = torch.cat([table[:, HIDDEN:].expand(BATCH, PREFIX, HIDDEN), v], 1)
additive = torch.cat([torch.zeros(BATCH, PREFIX), (mask - 1) * 1e9], 1)[:, None, None, :]
scores = heads(q, SEQ) @ heads(k, SEQ + PREFIX).transpose(-1, -2) / math.sqrt(HIDDEN // HEADS) + additive
context = (scores.softmax(-1) @ heads(v, SEQ + PREFIX)).transpose(1, 2).reshape(BATCH, SEQ, HIDDEN)
a = linear("attention.output.dense", context)
h = x + a + adapter("attention_adapter", a, F.relu)
n2 = layer_norm("output.LayerNorm", h)
act = F.gelu(linear("intermediate.dense", n2))
f = F.linear(act * P["output.dense.ia3_l"], P["output.dense.base_layer.weight"], P["output.dense.base_layer.bias"])
out = h + f + 4.0 * adapter("output_adapter", n2, F.gelu)
out.backward(grad_output)

tensors = {"input": x, "attention_mask": mask, "grad_output": grad_output, "output": out, "grad.input": x.grad}
tensors.update({"param." + n: p for n, p in params.items()})
tensors.update({"grad." + n: p.grad for n, p in params.items() if p.grad is not None})

write_fixture(tensors, {"torch": torch.__version__}, "peft_layer.safetensors")
