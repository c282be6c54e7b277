# What the bench's PyTorch scripts (torch_lstm.py, torch_gpt.py) share: timing calls, naming the BLAS
# the process loaded, and the JSON line they print for the bench's runner (its ProcessOutput).
import ctypes, json, os, resource, time

import torch

# Set on some machines for old OpenBLAS builds; the bench runs these scripts without them.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def timed(fn, warmup, n, on_first=None):
    """Wall and process CPU time (all threads) of each of n calls after the warm-up, in ms.
    on_first() runs right after the first call, warm-up or measured."""
    wall, cpu = [], []
    for i in range(warmup + n):
        c, t = time.process_time(), time.perf_counter()
        fn()
        if i >= warmup:
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        if i == 0 and on_first:
            on_first()
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


def print_result(result, notes=()):
    """Print the one JSON line the runner reads: the timings in `result`, with the peak RSS, the BLAS
    and the notes on threads, BLAS and the OpenBLAS variables added."""
    blas, blas_details = blas_in_use()
    print(json.dumps({
        **result,
        # Linux reports kilobytes; the runner prefers /usr/bin/time -v's figure when it has one.
        "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "blas": blas,
        "notes": [
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; BLAS: {blas_details}",
            ", ".join(f"{v}={os.environ[v]}" if v in os.environ else f"{v} unset" for v in OPENBLAS_OVERRIDES),
            *notes,
        ],
    }))
