#!/usr/bin/env python3
"""Writes Tests/GraphAutodiffTests/Fixtures/prenorm_block.json: the loss, the gradients and one AdamW step of a
small pre-LN transformer block, computed by PyTorch in float64. The Swift test builds the same block with the
raw graph builder and compares. CI does not need torch: the JSON is committed.

Block (weights in PyTorch's nn.Linear layout [out, in]):
    h = LN1(x); q, k, v = h Wqᵀ + bq, ...; split into H heads
    a = softmax(q kᵀ / sqrt(Dh) + causal & key-padding mask) v;  x1 = x + a Woᵀ + bo
    y = x1 + W2ᵀ gelu(W1ᵀ LN2(x1) + b1) + b2
    loss = cross_entropy(y Wlmᵀ, labels, ignore_index=-100, label_smoothing=0.1)
Run: /work/venv/bin/python Tools/make_autodiff_fixture.py   (torch==2.13.0)
"""
import json
import math
import os

import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)

B, L, D, H, F, V = 2, 5, 8, 2, 16, 11
DH = D // H
EPS = 1e-5
lens = torch.tensor([5, 3])
labels = torch.tensor([[1, 4, -100, 7, 2], [10, 0, 3, -100, -100]])
x = torch.randn(B, L, D)

shapes = {
    "ln1.weight": [D], "ln1.bias": [D],
    "q.weight": [D, D], "q.bias": [D], "k.weight": [D, D], "k.bias": [D], "v.weight": [D, D], "v.bias": [D],
    "o.weight": [D, D], "o.bias": [D],
    "ln2.weight": [D], "ln2.bias": [D],
    "fc1.weight": [F, D], "fc1.bias": [F], "fc2.weight": [D, F], "fc2.bias": [D],
    "lm.weight": [V, D],
}
params = {}
for name, shape in shapes.items():
    if name.startswith("ln") and name.endswith("weight"):
        t = 1 + 0.1 * torch.randn(*shape)
    else:
        t = 0.3 * torch.randn(*shape)
    params[name] = t.requires_grad_(True)
P = params


def forward():
    h = torch.nn.functional.layer_norm(x, [D], P["ln1.weight"], P["ln1.bias"], EPS)

    def heads(t):
        return t.view(B, L, H, DH).transpose(1, 2)

    q = heads(h @ P["q.weight"].T + P["q.bias"])
    k = heads(h @ P["k.weight"].T + P["k.bias"])
    v = heads(h @ P["v.weight"].T + P["v.bias"])
    scores = q @ k.transpose(-1, -2) / math.sqrt(DH)
    i = torch.arange(L).view(L, 1)
    j = torch.arange(L).view(1, L)
    allowed = (j <= i).view(1, 1, L, L) & (torch.arange(L).view(1, 1, 1, L) < lens.view(B, 1, 1, 1))
    scores = scores.masked_fill(~allowed, float("-inf"))
    a = torch.softmax(scores, dim=-1) @ v
    a = a.transpose(1, 2).reshape(B, L, D)
    x1 = x + a @ P["o.weight"].T + P["o.bias"]
    h2 = torch.nn.functional.layer_norm(x1, [D], P["ln2.weight"], P["ln2.bias"], EPS)
    f = torch.nn.functional.gelu(h2 @ P["fc1.weight"].T + P["fc1.bias"]) @ P["fc2.weight"].T + P["fc2.bias"]
    y = x1 + f
    logits = y @ P["lm.weight"].T
    return torch.nn.functional.cross_entropy(logits.reshape(B * L, V), labels.reshape(B * L),
                                             ignore_index=-100, label_smoothing=0.1)


loss = forward()
loss.backward()
grads = {n: p.grad.detach().clone() for n, p in params.items()}

# One AdamW step from zero state; weight decay only on matrices (the graph's default decay mask).
LR, WD = 1e-2, 0.1
before = {n: p.detach().clone() for n, p in params.items()}
decay = [p for n, p in params.items() if p.dim() >= 2]
no_decay = [p for n, p in params.items() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=LR, betas=(0.9, 0.999), eps=1e-8)
opt.step()


def tensor(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


fixture = {
    "generator": "Tools/make_autodiff_fixture.py, torch " + torch.__version__ + ", float64",
    "config": {"batch": B, "length": L, "width": D, "heads": H, "ffn": F, "vocab": V, "eps": EPS,
               "label_smoothing": 0.1, "ignore_index": -100, "lr": LR, "weight_decay": WD},
    "inputs": {"x": tensor(x), "lens": lens.tolist(), "labels": labels.reshape(-1).tolist()},
    "parameters": {n: tensor(t) for n, t in before.items()},
    "loss": float(loss.detach()),
    "gradients": {n: tensor(g) for n, g in grads.items()},
    "after_adamw": {n: tensor(p) for n, p in params.items()},
}
out = os.path.join(os.path.dirname(__file__), "..", "Tests", "GraphAutodiffTests", "Fixtures", "prenorm_block.json")
with open(out, "w") as f:
    json.dump(fixture, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(out), "loss", float(loss.detach()))
