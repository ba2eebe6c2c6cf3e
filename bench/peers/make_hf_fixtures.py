#!/usr/bin/python3
"""Hugging Face model folders and PEFT adapters written by hand in plain PyTorch, following the layouts key by key,
with the outputs PyTorch computes for them (no transformers or peft package is used: the forward passes are written
out here, the adapters as PEFT's layers compute them).

  /usr/bin/python3 bench/peers/make_hf_fixtures.py            writes tests/fixtures/hf/ (small, committed)
  /usr/bin/python3 bench/peers/make_hf_fixtures.py --bert-base DIR
      writes a random BERT-base-shaped BertForSequenceClassification (12 layers, hidden 768, vocab 30522, 110M
      parameters, 440 MB) and its logits into DIR; the tests generate it in a temporary folder.

tests/fixtures/hf/:
  tiny-bert/        BertForSequenceClassification: config.json, model.safetensors, vocab.txt ([PAD] [UNK] [CLS] [SEP]
                    [MASK] w0 w1 ...), expected.json (ids, mask, logits)
  tiny-bert/lora, ia3, prefix, prefix-mlp/
                    PEFT adapters (task_type SEQ_CLS, classifier in modules_to_save): adapter_config.json and
                    adapter_model.safetensors with PEFT's keys (base_model.model.<path>.lora_A.weight, ...ia3_l as
                    [out, 1] or [1, in] for feed-forward modules, prompt_embeddings [n, layers*2*hidden] for prefix
                    tuning, base_model.model.classifier.* or, for prompt learning, base_model.classifier.*), and
                    expected.json with the adapted model's logits
  tiny-distilbert/  DistilBertModel (distilbert.* names): config.json, model.safetensors, expected.json (last hidden state)
  tiny-vit/         ViTForImageClassification (google/vit-* names): config.json, model.safetensors, expected.json
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

from fixture_io import write_fixture


def write_json(directory, name, obj):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def linear(sd, name, x, hooks=None):
    """x W^T + b for the HF Linear `name`, with the PEFT layer (if any) that `hooks` puts on it."""
    w, b = sd[name + ".weight"], sd[name + ".bias"]
    hook = (hooks or {}).get(name)
    if hook is None:
        return x @ w.T + b
    kind = hook[0]
    if kind == "lora":  # PEFT LoraLayer: base(x) + scale * lora_B(lora_A(dropout(x)))
        _, a, bb, scale = hook
        return x @ w.T + b + scale * ((x @ a.T) @ bb.T)
    if kind == "ia3":  # PEFT IA3 Linear: output scaled by ia3_l [out, 1], or input by ia3_l [1, in] for feed-forward
        _, l, feedforward = hook
        return (x * l.flatten()) @ w.T + b if feedforward else (x @ w.T + b) * l.flatten()
    raise ValueError(kind)


def layer_norm(sd, name, x, eps):
    return F.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"], eps)


def bert_logits(sd, cfg, ids, mask, types, hooks=None, prefix=None):
    """BertForSequenceClassification in eval mode; `prefix` is [layers, 2, batch, heads, n, head_dim] (PEFT's past_key_values)."""
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps = hidden // heads, cfg["layer_norm_eps"]
    bsz, t = ids.shape
    x = sd["bert.embeddings.word_embeddings.weight"][ids] + sd["bert.embeddings.position_embeddings.weight"][:t] \
        + sd["bert.embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(sd, "bert.embeddings.LayerNorm", x, eps)
    full_mask = mask if prefix is None else torch.cat([torch.ones(bsz, prefix.shape[4]), mask], 1)
    additive = (1.0 - full_mask)[:, None, None, :] * torch.finfo(torch.float32).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        split = lambda y: y.view(bsz, -1, heads, hd).transpose(1, 2)
        q = split(linear(sd, p + "attention.self.query", x, hooks))
        k = split(linear(sd, p + "attention.self.key", x, hooks))
        v = split(linear(sd, p + "attention.self.value", x, hooks))
        if prefix is not None:
            k, v = torch.cat([prefix[i, 0], k], 2), torch.cat([prefix[i, 1], v], 2)
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + additive, -1)
        ctx = (probs @ v).transpose(1, 2).reshape(bsz, t, hidden)
        x = layer_norm(sd, p + "attention.output.LayerNorm", x + linear(sd, p + "attention.output.dense", ctx, hooks), eps)
        inter = F.gelu(linear(sd, p + "intermediate.dense", x, hooks))
        x = layer_norm(sd, p + "output.LayerNorm", x + linear(sd, p + "output.dense", inter, hooks), eps)
    pooled = torch.tanh(linear(sd, "bert.pooler.dense", x[:, 0]))
    return linear(sd, "classifier", pooled)


def random_bert(cfg, labels, std):
    hidden, inter = cfg["hidden_size"], cfg["intermediate_size"]
    sd = {}

    def lin(name, fan_in, fan_out):
        sd[name + ".weight"] = torch.randn(fan_out, fan_in) * std
        sd[name + ".bias"] = torch.randn(fan_out) * std

    def norm(name):
        sd[name + ".weight"] = 1 + torch.randn(hidden) * 0.1
        sd[name + ".bias"] = torch.randn(hidden) * 0.1

    sd["bert.embeddings.word_embeddings.weight"] = torch.randn(cfg["vocab_size"], hidden) * std
    sd["bert.embeddings.position_embeddings.weight"] = torch.randn(cfg["max_position_embeddings"], hidden) * std
    sd["bert.embeddings.token_type_embeddings.weight"] = torch.randn(cfg["type_vocab_size"], hidden) * std
    norm("bert.embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        for n in ("query", "key", "value"):
            lin(p + "attention.self." + n, hidden, hidden)
        lin(p + "attention.output.dense", hidden, hidden)
        norm(p + "attention.output.LayerNorm")
        lin(p + "intermediate.dense", hidden, inter)
        lin(p + "output.dense", inter, hidden)
        norm(p + "output.LayerNorm")
    lin("bert.pooler.dense", hidden, hidden)
    lin("classifier", hidden, labels)
    return sd


def bert_config(**shape):
    cfg = {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
        "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512,
        "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "layer_norm_eps": 1e-12, "initializer_range": 0.02, "pad_token_id": 0,
    }
    cfg.update(shape)
    return cfg


def bert_inputs(vocab, batch, seq):
    ids = torch.randint(5, vocab, (batch, seq))
    mask = torch.ones(batch, seq)
    mask[1, seq - 3:] = 0  # the second row is padded
    ids[1, seq - 3:] = 0
    types = torch.zeros(batch, seq, dtype=torch.long)
    types[0, seq // 2:] = 1
    return ids, mask, types


def expected(ids, mask, types, logits):
    return {"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "token_type_ids": types.tolist(),
            "logits": logits.tolist()}


def write_bert(directory, cfg, labels, std, batch, seq):
    sd = random_bert(cfg, labels, std)
    cfg = dict(cfg, id2label={str(i): f"LABEL_{i}" for i in range(labels)}, label2id={f"LABEL_{i}": i for i in range(labels)})
    ids, mask, types = bert_inputs(cfg["vocab_size"], batch, seq)
    with torch.no_grad():
        logits = bert_logits(sd, cfg, ids, mask, types)
    write_fixture(sd, {"format": "pt"}, "model.safetensors", directory)
    write_json(directory, "expected.json", expected(ids, mask, types, logits))
    write_json(directory, "config.json", cfg)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = specials + [f"w{i}" for i in range(cfg["vocab_size"] - len(specials))]
    with open(os.path.join(directory, "vocab.txt.tmp"), "w") as f:
        f.write("\n".join(words) + "\n")
    os.replace(os.path.join(directory, "vocab.txt.tmp"), os.path.join(directory, "vocab.txt"))
    return sd, cfg, (ids, mask, types)


def peft_common(task_type="SEQ_CLS"):
    return {"base_model_name_or_path": "tiny-bert", "revision": None, "inference_mode": True, "task_type": task_type,
            "auto_mapping": None}


def write_adapters(root, sd, cfg, inputs):
    ids, mask, types = inputs
    hidden, layers, heads = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    labels = sd["classifier.weight"].shape[0]
    # modules_to_save: PEFT's SEQ_CLS adds "classifier" and trains a copy of it; the file holds the copy.
    head = {"classifier.weight": torch.randn(labels, hidden) * 0.3, "classifier.bias": torch.randn(labels) * 0.3}
    with_head = dict(sd, **head)

    # LoRA r=4, alpha=8 on query and value.
    r, alpha = 4, 8
    tensors, hooks = {}, {}
    for i in range(layers):
        for n in ("query", "value"):
            path = f"bert.encoder.layer.{i}.attention.self.{n}"
            a, b = torch.randn(r, hidden) * 0.3, torch.randn(hidden, r) * 0.3
            tensors[f"base_model.model.{path}.lora_A.weight"] = a
            tensors[f"base_model.model.{path}.lora_B.weight"] = b
            hooks[path] = ("lora", a, b, alpha / r)
    tensors.update({"base_model.model." + k: v for k, v in head.items()})
    config = dict(peft_common(), peft_type="LORA", r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=["query", "value"],
                  modules_to_save=["classifier"], bias="none", fan_in_fan_out=False, use_rslora=False, use_dora=False,
                  init_lora_weights=True, layers_to_transform=None, layers_pattern=None, rank_pattern={}, alpha_pattern={})
    write_adapter(os.path.join(root, "lora"), tensors, config, bert_logits(with_head, cfg, ids, mask, types, hooks), inputs)

    # IA3 with PEFT's BERT defaults: key and value scale their outputs; "output.dense" matches both attention.output.dense
    # and the FFN's output.dense (suffix match), which are feed-forward modules: their inputs are scaled.
    tensors, hooks = {}, {}
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        for name, fan_in, ff in (("attention.self.key", hidden, False), ("attention.self.value", hidden, False),
                                 ("attention.output.dense", hidden, True), ("output.dense", cfg["intermediate_size"], True)):
            l = 1 + torch.randn(1, fan_in) * 0.3 if ff else 1 + torch.randn(hidden, 1) * 0.3
            tensors[f"base_model.model.{p}{name}.ia3_l"] = l
            hooks[p + name] = ("ia3", l, ff)
    tensors.update({"base_model.model." + k: v for k, v in head.items()})
    config = dict(peft_common(), peft_type="IA3", target_modules=["key", "value", "output.dense"],
                  feedforward_modules=["output.dense"], fan_in_fan_out=False, init_ia3_weights=True, modules_to_save=["classifier"])
    write_adapter(os.path.join(root, "ia3"), tensors, config, bert_logits(with_head, cfg, ids, mask, types, hooks), inputs)

    # Prefix tuning: prompt_embeddings [n, layers*2*hidden] become past_key_values as PeftModel.get_prompt does.
    n = 3
    prompt = torch.randn(n, layers * 2 * hidden) * 0.5
    past = prompt.view(1, n, layers * 2, heads, hidden // heads).expand(ids.shape[0], -1, -1, -1, -1)
    past = past.permute(2, 0, 3, 1, 4).reshape(layers, 2, ids.shape[0], heads, n, hidden // heads)
    tensors = {"prompt_embeddings": prompt}
    tensors.update({"base_model." + k: v for k, v in head.items()})
    logits = bert_logits(with_head, cfg, ids, mask, types, prefix=past)
    for name, projection in (("prefix", False), ("prefix-mlp", True)):
        config = dict(peft_common(), peft_type="PREFIX_TUNING", num_virtual_tokens=n, token_dim=hidden,
                      num_transformer_submodules=1, num_attention_heads=heads, num_layers=layers, encoder_hidden_size=8,
                      prefix_projection=projection, modules_to_save=["classifier"])
        write_adapter(os.path.join(root, name), tensors, config, logits, inputs)


def write_adapter(directory, tensors, config, logits, inputs):
    write_fixture(tensors, {"format": "pt"}, "adapter_model.safetensors", directory)
    write_json(directory, "adapter_config.json", config)
    write_json(directory, "expected.json", expected(*inputs, logits))


def write_distilbert(directory):
    cfg = {"architectures": ["DistilBertModel"], "model_type": "distilbert", "vocab_size": 40, "dim": 16, "n_layers": 2,
           "n_heads": 2, "hidden_dim": 32, "max_position_embeddings": 24, "activation": "gelu", "dropout": 0.1,
           "attention_dropout": 0.1, "initializer_range": 0.02, "sinusoidal_pos_embds": False}
    dim = cfg["dim"]
    sd = {"distilbert.embeddings.word_embeddings.weight": torch.randn(40, dim) * 0.5,
          "distilbert.embeddings.position_embeddings.weight": torch.randn(24, dim) * 0.5,
          "distilbert.embeddings.LayerNorm.weight": 1 + torch.randn(dim) * 0.1,
          "distilbert.embeddings.LayerNorm.bias": torch.randn(dim) * 0.1}
    for i in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{i}."
        for name, fan_in, fan_out in (("attention.q_lin", dim, dim), ("attention.k_lin", dim, dim), ("attention.v_lin", dim, dim),
                                      ("attention.out_lin", dim, dim), ("ffn.lin1", dim, 32), ("ffn.lin2", 32, dim)):
            sd[p + name + ".weight"] = torch.randn(fan_out, fan_in) * 0.3
            sd[p + name + ".bias"] = torch.randn(fan_out) * 0.1
        for name in ("sa_layer_norm", "output_layer_norm"):
            sd[p + name + ".weight"] = 1 + torch.randn(dim) * 0.1
            sd[p + name + ".bias"] = torch.randn(dim) * 0.1
    ids, mask, _ = bert_inputs(40, 2, 7)
    heads, hd, eps = cfg["n_heads"], dim // cfg["n_heads"], 1e-12
    x = sd["distilbert.embeddings.word_embeddings.weight"][ids] + sd["distilbert.embeddings.position_embeddings.weight"][:7]
    x = layer_norm(sd, "distilbert.embeddings.LayerNorm", x, eps)
    for i in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{i}."
        split = lambda y: y.view(2, -1, heads, hd).transpose(1, 2)
        q = split(linear(sd, p + "attention.q_lin", x)) / math.sqrt(hd)
        k, v = split(linear(sd, p + "attention.k_lin", x)), split(linear(sd, p + "attention.v_lin", x))
        scores = (q @ k.transpose(-1, -2)).masked_fill(mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(2, 7, dim)
        x = layer_norm(sd, p + "sa_layer_norm", linear(sd, p + "attention.out_lin", ctx) + x, eps)
        x = layer_norm(sd, p + "output_layer_norm", linear(sd, p + "ffn.lin2", F.gelu(linear(sd, p + "ffn.lin1", x))) + x, eps)
    write_fixture(sd, {"format": "pt"}, "model.safetensors", directory)
    write_json(directory, "expected.json", {"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "last_hidden_state": x.tolist()})
    write_json(directory, "config.json", cfg)


def write_vit(directory):
    cfg = {"architectures": ["ViTForImageClassification"], "model_type": "vit", "image_size": 8, "patch_size": 4,
           "num_channels": 3, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
           "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-12,
           "initializer_range": 0.02, "qkv_bias": True, "encoder_stride": 4,
           "id2label": {"0": "cat", "1": "dog", "2": "fish"}, "label2id": {"cat": 0, "dog": 1, "fish": 2}}
    h, p, c = 16, 4, 3
    patches = (8 // p) ** 2
    sd = {"vit.embeddings.cls_token": torch.randn(1, 1, h) * 0.5,
          "vit.embeddings.position_embeddings": torch.randn(1, patches + 1, h) * 0.5,
          "vit.embeddings.patch_embeddings.projection.weight": torch.randn(h, c, p, p) * 0.3,
          "vit.embeddings.patch_embeddings.projection.bias": torch.randn(h) * 0.1}

    def lin(name, fan_in, fan_out):
        sd[name + ".weight"] = torch.randn(fan_out, fan_in) * 0.3
        sd[name + ".bias"] = torch.randn(fan_out) * 0.1

    def norm(name):
        sd[name + ".weight"] = 1 + torch.randn(h) * 0.1
        sd[name + ".bias"] = torch.randn(h) * 0.1

    for i in range(2):
        q = f"vit.encoder.layer.{i}."
        for n in ("query", "key", "value"):
            lin(q + "attention.attention." + n, h, h)
        lin(q + "attention.output.dense", h, h)
        lin(q + "intermediate.dense", h, 32)
        lin(q + "output.dense", 32, h)
        norm(q + "layernorm_before")
        norm(q + "layernorm_after")
    norm("vit.layernorm")
    lin("vit.pooler.dense", h, h)  # google/vit-* checkpoints carry ViTModel's pooler; image classification ignores it
    lin("classifier", h, 3)
    pixels = torch.randn(2, c, 8, 8)
    x = F.conv2d(pixels, sd["vit.embeddings.patch_embeddings.projection.weight"], sd["vit.embeddings.patch_embeddings.projection.bias"], stride=p)
    x = torch.cat([sd["vit.embeddings.cls_token"].expand(2, -1, -1), x.flatten(2).transpose(1, 2)], 1) + sd["vit.embeddings.position_embeddings"]
    for i in range(2):
        q = f"vit.encoder.layer.{i}."
        y = layer_norm(sd, q + "layernorm_before", x, 1e-12)
        split = lambda t: t.view(2, -1, 2, h // 2).transpose(1, 2)
        qq, kk, vv = (split(linear(sd, q + "attention.attention." + n, y)) for n in ("query", "key", "value"))
        ctx = (torch.softmax(qq @ kk.transpose(-1, -2) / math.sqrt(h // 2), -1) @ vv).transpose(1, 2).reshape(2, -1, h)
        x = x + linear(sd, q + "attention.output.dense", ctx)
        y = layer_norm(sd, q + "layernorm_after", x, 1e-12)
        x = x + linear(sd, q + "output.dense", F.gelu(linear(sd, q + "intermediate.dense", y)))
    logits = linear(sd, "classifier", layer_norm(sd, "vit.layernorm", x, 1e-12)[:, 0])
    write_fixture(sd, {"format": "pt"}, "model.safetensors", directory)
    write_json(directory, "expected.json", {"pixel_values": pixels.tolist(), "logits": logits.tolist()})
    write_json(directory, "config.json", cfg)


def main():
    torch.manual_seed(20261202)
    if len(sys.argv) == 3 and sys.argv[1] == "--bert-base":
        write_bert(sys.argv[2], bert_config(), labels=3, std=0.02, batch=2, seq=12)
        return
    if len(sys.argv) != 1:
        sys.exit("usage: make_hf_fixtures.py [--bert-base DIR]")
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "hf")
    tiny = bert_config(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                       max_position_embeddings=24)
    with torch.no_grad():
        sd, cfg, inputs = write_bert(os.path.join(root, "tiny-bert"), tiny, labels=3, std=0.3, batch=2, seq=7)
        write_adapters(os.path.join(root, "tiny-bert"), sd, cfg, inputs)
        write_distilbert(os.path.join(root, "tiny-distilbert"))
        write_vit(os.path.join(root, "tiny-vit"))


if __name__ == "__main__":
    main()
