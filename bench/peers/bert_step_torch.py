#!/usr/bin/python3
"""PyTorch peer for `Finetune.Bench step`: the all-MiniLM-L6-v2 shape (6 layers, hidden 384, 12 heads, FFN 1536)
with a 2-class head on mean pooling, timed for one training step (forward, cross-entropy, backward, AdamW) with
LoRA (r=8 on query and value, alpha 16, dropout 0.1; encoder frozen) and with full fine-tuning, plus a
no-grad eval-mode forward. Weights are random: step time does not depend on their values.

usage: /usr/bin/python3 bert_step_torch.py BATCH SEQ REPS THREADS   -> one JSON object on stdout
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, H, HEADS, FFN, LAYERS, MAXPOS = 30522, 384, 12, 1536, 6, 512


class LoraLinear(nn.Module):
    def __init__(self, base, r=8, alpha=16, dropout=0.1):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + (self.drop(x) @ self.A.t() @ self.B.t()) * self.scale


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(H, H) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(H, eps=1e-12), nn.LayerNorm(H, eps=1e-12)
        self.up, self.down = nn.Linear(H, FFN), nn.Linear(FFN, H)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, HEADS, H // HEADS).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(H // HEADS) + mask
        ctx = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, t, H)
        x = self.ln1(x + self.drop(self.o(ctx)))
        return self.ln2(x + self.drop(self.down(F.gelu(self.up(x)))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.pos, self.segment = nn.Embedding(V, H), nn.Embedding(MAXPOS, H), nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.head = nn.Linear(H, 2)

    def forward(self, ids, attn):
        t = ids.shape[1]
        x = self.word(ids) + self.pos(torch.arange(t, device=ids.device)) + self.segment(torch.zeros_like(ids))
        x = self.drop(self.ln(x))
        mask = (1.0 - attn[:, None, None, :]) * -1e9
        for layer in self.layers:
            x = layer(x, mask)
        pooled = (x * attn[..., None]).sum(1) / attn.sum(1, keepdim=True)
        return self.head(self.drop(pooled))


def median_time(fn, reps):
    fn()
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    batch, seq, reps, threads = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ids = torch.randint(1000, 20000, (batch, seq))
    attn = torch.ones(batch, seq)
    labels = torch.randint(0, 2, (batch,))
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for method in ("lora", "full"):
        model = Model()
        if method == "lora":
            for p in model.parameters():
                p.requires_grad_(False)
            for layer in model.layers:
                layer.q, layer.v = LoraLinear(layer.q), LoraLinear(layer.v)
            for p in model.head.parameters():
                p.requires_grad_(True)
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

        def step():
            loss = F.cross_entropy(model(ids, attn), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        result[method + "_step_s"] = median_time(step, reps)
    model = Model().eval()
    with torch.no_grad():
        result["forward_s"] = median_time(lambda: model(ids, attn), reps)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
