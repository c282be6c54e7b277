# The PyTorch contender of `ganglion bench`: the char-LM training step and forward of the peer
# anchor (Embedding -> LSTM x L -> Linear, Adam, cross-entropy, global-norm clipping), with the
# workload passed as arguments. Prints one JSON line with the timings. With --export PATH it only
# writes the model's ONNX export (fixed shapes, input "tokens" int64 [batch, seq], output "logits")
# for the onnxruntime contender, and prints {"exported": PATH}. The timings come with the BLAS the
# process actually loaded (blas_in_use), since torch's speed here is mostly its BLAS's.
#
#   /usr/bin/python3 torch_lstm.py --threads 2 --warmup 3 --steps 10
import argparse, ctypes, json, os, resource, sys, time

p = argparse.ArgumentParser()
for name, default in [("vocab", 65), ("embed", 64), ("units", 256), ("layers", 2), ("seq", 64), ("batch", 32), ("threads", 2),
                      ("warmup", 3), ("steps", 10), ("forward-warmup", 3), ("forward-steps", 10)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--clip", type=float, default=1.0)
p.add_argument("--export")
a = p.parse_args()

import torch, torch.nn as nn  # noqa: E402 (after argument errors, which need no torch)

# Set on some machines for old OpenBLAS builds; the bench runs this script without them.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

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


def timed(fn, warmup, n):
    """Wall and process CPU time (all threads) of each of n calls after the warm-up, in ms."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(n):
        c, t = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def blas_in_use():
    """The BLAS torch calls, in words, and the details for the notes. OpenBLAS says its version and
    the kernel set it chose (openblas_get_config / openblas_get_corename); for any other library,
    its file and torch's BLAS_INFO build setting are all there is to go on."""
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower() and ".so" in line})
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
        except (OSError, AttributeError):
            continue
        config, core = lib.openblas_get_config().decode(), lib.openblas_get_corename().decode()
        version = " ".join(config.split()[:2])
        return f"{version}, {core} kernels", f"{config} ({path}), {lib.openblas_get_num_threads()} threads"
    info = next((part.strip() for part in torch.__config__.show().split(",") if "BLAS_INFO" in part), "BLAS_INFO unknown")
    return f"not OpenBLAS ({info})", f"BLAS libraries loaded: {', '.join(libs) or 'none found'}"


train, train_cpu = timed(step, a.warmup, a.steps)
with torch.no_grad():
    forward, forward_cpu = timed(lambda: m(x), a.forward_warmup, a.forward_steps)
blas, blas_details = blas_in_use()
print(json.dumps({
    "trainStepSamplesMs": train,
    "trainStepCpuSamplesMs": train_cpu,
    "forwardSamplesMs": forward,
    "forwardCpuSamplesMs": forward_cpu,
    # Linux reports kilobytes; the runner prefers /usr/bin/time -v's figure when it has one.
    "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "blas": blas,
    "notes": [
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; BLAS: {blas_details}",
        ", ".join(f"{v}={os.environ[v]}" if v in os.environ else f"{v} unset" for v in OPENBLAS_OVERRIDES),
    ],
}))
