#!/usr/bin/python3
"""PyTorch + Hugging Face PEFT peer of tools/GpuStep (finetune-gpu-step): one BERT training step (forward,
cross-entropy, backward, AdamW) on random weights, LoRA r=8 alpha 16 dropout 0.1 on query and value (PEFT's
LoraConfig, classifier trained) or full fine-tuning, timed on the GPU (CPU when there is none) as the median of REPS
steps after two warm-ups. Without transformers/peft installed it falls back to the plain-PyTorch BERT of
bert_step_torch.py (its own LoRA) and says so in the "peer" field.

usage: gpu_step_torch.py SHAPE METHOD BATCH SEQ REPS   (SHAPE minilm | bert-base, METHOD lora | full) -> one JSON line
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {"minilm": (384, 6, 12, 1536), "bert-base": (768, 12, 12, 3072)}


def hf_model(shape, method):
    from transformers import BertConfig, BertForSequenceClassification
    from peft import LoraConfig, get_peft_model
    hidden, layers, heads, ffn = SHAPES[shape]
    config = BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn, num_labels=2)
    model = BertForSequenceClassification(config)
    if method == "lora":
        lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"], modules_to_save=["classifier"])
        model = get_peft_model(model, lora)
    import peft
    import transformers
    return model, f"PyTorch {torch.__version__} + transformers {transformers.__version__} + PEFT {peft.__version__}", \
        lambda ids, attn: model(input_ids=ids, attention_mask=attn).logits


def plain_model(shape, method, reason):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bert_step_torch as plain
    plain.H, plain.LAYERS, plain.HEADS, plain.FFN = SHAPES[shape]
    model = plain.Model()
    if method == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in model.layers:
            layer.q, layer.v = plain.LoraLinear(layer.q), plain.LoraLinear(layer.v)
        for p in model.head.parameters():
            p.requires_grad_(True)
    return model, f"PyTorch {torch.__version__}, plain BERT of bert_step_torch.py (HF transformers/PEFT unavailable: {reason})", model


def main():
    shape, method = sys.argv[1], sys.argv[2]
    batch, seq, reps = (int(a) for a in sys.argv[3:6])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    try:
        model, peer, forward = hf_model(shape, method)
    except ImportError as e:
        model, peer, forward = plain_model(shape, method, e)
    model.to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(1000, 20000, (batch, seq), device=device)
    attn = torch.ones(batch, seq, device=device)
    labels = torch.randint(0, 2, (batch,), device=device)

    def step():
        start = time.perf_counter()
        F.cross_entropy(forward(ids, attn), labels).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    step()
    step()
    ms = 1000 * statistics.median(step() for _ in range(reps))
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(json.dumps({"shape": shape, "method": method, "batch": batch, "seq": seq, "device": name, "peer": peer, "step_ms": round(ms, 2)}))


if __name__ == "__main__":
    main()
