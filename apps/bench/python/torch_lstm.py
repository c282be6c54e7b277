# The PyTorch contender of `ganglion bench`: the char-LM training step and forward of the peer
# anchor (Embedding -> LSTM x L -> Linear, Adam, cross-entropy, global-norm clipping), with the
# workload passed as arguments. Prints one JSON line with the timings. With --export PATH it only
# writes the model's ONNX export (fixed shapes, input "tokens" int64 [batch, seq], output "logits")
# for the onnxruntime contender, and prints {"exported": PATH}. The timings come with the BLAS the
# process actually loaded (torch_common.blas_in_use), since torch's speed here is mostly its BLAS's.
#
#   /usr/bin/python3 torch_lstm.py --threads 2 --warmup 3 --steps 10
import argparse, json, sys, time

sys.dont_write_bytecode = True  # no __pycache__ next to the script

p = argparse.ArgumentParser()
for name, default in [("vocab", 65), ("embed", 64), ("units", 256), ("layers", 2), ("seq", 64), ("batch", 32), ("threads", 2),
                      ("warmup", 3), ("steps", 10), ("forward-warmup", 3), ("forward-steps", 10)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--clip", type=float, default=1.0)
p.add_argument("--export")
a = p.parse_args()

import torch, torch.nn as nn  # noqa: E402 (after argument errors, which need no torch)
from torch_common import print_result, timed  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
V, E, H, L, T, B = a.vocab, a.embed, a.units, a.layers, a.seq, a.batch


class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(V, E)
        s.lstm = nn.LSTM(E, H, num_layers=L, batch_first=True)
        s.out = nn.Linear(H, V)

    def forward(s, x):
        return s.out(s.lstm(s.emb(x))[0])


m = M()
x = torch.randint(0, V, (B, T))
y = torch.randint(0, V, (B, T))

if a.export:
    torch.onnx.export(m, (x,), a.export, opset_version=14, input_names=["tokens"], output_names=["logits"])
    print(json.dumps({"exported": a.export}))
    sys.exit(0)

opt = torch.optim.Adam(m.parameters(), a.lr)
lossf = nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss = lossf(m(x).reshape(-1, V), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), a.clip)
    opt.step()
    return loss.item()


first_step_end = []
train, train_cpu = timed(step, a.warmup, a.steps, on_first=lambda: first_step_end.append(time.time() * 1000))
with torch.no_grad():
    forward, forward_cpu = timed(lambda: m(x), a.forward_warmup, a.forward_steps)
print_result({
    "trainStepSamplesMs": train,
    "trainStepCpuSamplesMs": train_cpu,
    "forwardSamplesMs": forward,
    "forwardCpuSamplesMs": forward_cpu,
    "firstStepEndMs": first_step_end[0],
})
