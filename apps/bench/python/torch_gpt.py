# The PyTorch contender of `ganglion bench --workload gpt-*`: a GPT training step (the anchor
# torch_gpt.py with its shapes as arguments): token and learned position embeddings, pre-norm
# blocks (LayerNorm eps 1e-5, fused biased QKV projection, causal softmax attention, exact GELU
# MLP of 4·dim), a final LayerNorm and a head tied to the token table; AdamW (torch's defaults
# but lr: betas 0.9/0.999, eps 1e-8, weight decay as given), cross-entropy, global-norm clipping.
# Prints one JSON line with the timings, the BLAS the process loaded and the parameter count.
# With --count-params it builds the model only and prints {"paramCount": N}; with --loss-of FILE
# it loads the weights, ids and labels in FILE ({"weights": {name: flat values}, "ids": [...],
# "labels": [...]}, names as in state_dict()) and prints {"loss": x} (the test that both
# frameworks compute the same function).
#
#   /usr/bin/python3 torch_gpt.py --dim 128 --blocks 4 --heads 4 --context 128 --batch 8 --warmup 2 --steps 10
import argparse, json, math, sys, time

sys.dont_write_bytecode = True  # no __pycache__ next to the script
p = argparse.ArgumentParser()
for name, default in [("vocab", 89), ("dim", 128), ("blocks", 4), ("heads", 4), ("context", 128), ("batch", 8), ("threads", 2),
                      ("warmup", 2), ("steps", 10)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--lr", type=float, default=3e-4)
p.add_argument("--weight-decay", type=float, default=0.01)
p.add_argument("--clip", type=float, default=1.0)
p.add_argument("--lora", type=int, default=0, help="LoRA rank (0: fine-tune every weight)")
p.add_argument("--lora-alpha", type=float, default=16.0)
p.add_argument("--lora-targets", default="q,v")
p.add_argument("--count-params", action="store_true")
p.add_argument("--loss-of")
a = p.parse_args()
if a.dim % a.heads:
    p.error(f"--dim {a.dim} does not split into --heads {a.heads}")

import torch, torch.nn as nn, torch.nn.functional as F  # noqa: E402 (after argument errors, which need no torch)

torch.set_num_threads(a.threads)
torch.manual_seed(0)
V, D, L, NH, T, B = a.vocab, a.dim, a.blocks, a.heads, a.context, a.batch


TARGETS = a.lora_targets.split(",") if a.lora else []


class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.ln1, s.qkv, s.proj = nn.LayerNorm(D), nn.Linear(D, 3 * D), nn.Linear(D, D)
        s.ln2, s.ff = nn.LayerNorm(D), nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))
        # LoRA as PEFT lays it out: A [r, in] U(±1/√in), B [out, r] zeros; y += alpha/r · x Aᵀ Bᵀ.
        for t in TARGETS:
            setattr(s, f"lora_{t}_A", nn.Parameter(torch.empty(a.lora, D).uniform_(-(D ** -0.5), D ** -0.5)))
            setattr(s, f"lora_{t}_B", nn.Parameter(torch.zeros(D, a.lora)))

    def lora(s, t, x):
        return (x @ getattr(s, f"lora_{t}_A").T @ getattr(s, f"lora_{t}_B").T) * (a.lora_alpha / a.lora) if t in TARGETS else 0

    def forward(s, x):
        b, t, _ = x.shape
        h = s.ln1(x)
        q, k, v = s.qkv(h).split(D, -1)
        q, k, v = (z + s.lora(n, h) for z, n in ((q, "q"), (k, "k"), (v, "v")))
        q, k, v = (z.reshape(b, t, NH, D // NH).transpose(1, 2) for z in (q, k, v))
        # PyTorch 1.13 has no scaled_dot_product_attention.
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // NH)
        att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(b, t, D)
        x = x + s.proj(o) + s.lora("o", o)
        return x + s.ff(s.ln2(x))


class GPT(nn.Module):
    def __init__(s):
        super().__init__()
        s.tok, s.pos = nn.Embedding(V, D), nn.Embedding(T, D)
        # The same initial scales as Ganglion's gpt(): token rows of norm ~1, positions N(0, 0.02²).
        nn.init.normal_(s.tok.weight, std=D ** -0.5)
        nn.init.normal_(s.pos.weight, std=0.02)
        s.blocks, s.ln = nn.Sequential(*[Block() for _ in range(L)]), nn.LayerNorm(D)

    def forward(s, x):
        return s.ln(s.blocks(s.tok(x) + s.pos.weight[: x.shape[1]])) @ s.tok.weight.T


m = GPT()
param_count = sum(q.numel() for q in m.parameters())
if a.count_params:
    print(json.dumps({"paramCount": param_count}))
    sys.exit(0)
if a.loss_of:
    given = json.load(open(a.loss_of))
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    m.load_state_dict({k: torch.tensor(v, dtype=torch.float32).reshape(shapes[k]) for k, v in given["weights"].items()})
    ids, labels = (torch.tensor(given[k]).reshape(B, T) for k in ("ids", "labels"))
    with torch.no_grad():
        print(json.dumps({"loss": F.cross_entropy(m(ids).reshape(-1, V), labels.reshape(-1)).item()}))
    sys.exit(0)

from torch_common import print_result, timed  # noqa: E402

if a.lora:  # only the adapters train: no gradients, no optimizer state for the rest
    for name, q in m.named_parameters():
        q.requires_grad = "lora_" in name
trained = [q for q in m.parameters() if q.requires_grad]
opt = torch.optim.AdamW(trained, a.lr, weight_decay=a.weight_decay)
x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
losses = []


def step():
    opt.zero_grad()
    loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trained, a.clip)
    opt.step()
    losses.append(loss.item())


first_step_end = []
train, train_cpu = timed(step, a.warmup, a.steps, on_first=lambda: first_step_end.append(time.time() * 1000))
print_result(
    {"trainStepSamplesMs": train, "trainStepCpuSamplesMs": train_cpu, "firstStepEndMs": first_step_end[0], "paramCount": param_count},
    notes=[f"loss at step 1: {losses[0]:.4f}"],
)
