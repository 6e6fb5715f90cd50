#!/usr/bin/env python3
"""The per-layer work of Python WeightWatcher 0.7.5.5's default analyze, done the way it does it:
float32 weights -> float64 copy -> scipy.linalg.svd(compute_uv=False) -> squared, sorted -> the
'ww' power-law fit (numpy loop over every xmin candidate, spec section 3.2) -> norm metrics.

Reads a safetensors file or folder of the kind bench/analyze.bench.ts writes (keys ending in
.weight, 2-D tensors) and prints one JSON line: {"seconds": ..., "layers": ..., "alphas": [...]}.
Timing covers SVD + fit + metrics only (file reading excluded), like the reference's analyze loop.
"""
import json, struct, sys, time
import numpy as np
import scipy.linalg

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        for name in sorted(k for k in header if k != "__metadata__"):
            t = header[name]
            if t["dtype"] == "BF16":
                f.seek(base + t["data_offsets"][0])
                raw = np.frombuffer(f.read(t["data_offsets"][1] - t["data_offsets"][0]), dtype=np.uint16)
                arr = (raw.astype(np.uint32) << 16).view(np.float32).reshape(t["shape"])
            else:
                f.seek(base + t["data_offsets"][0])
                arr = np.frombuffer(f.read(t["data_offsets"][1] - t["data_offsets"][0]), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
            yield name, arr.astype(np.float32)


def ww_fit(data):
    data = np.sort(np.asarray(data, dtype=np.float64))
    N = len(data)
    log_data = np.log(data)
    alphas = np.zeros(N - 1)
    Ds = np.ones(N - 1)
    for i, xmin in enumerate(data[:-1]):
        n = float(N - i)
        alpha = 1 + n / (np.sum(log_data[i:]) - n * log_data[i])
        alphas[i] = alpha
        if alpha > 1:
            Ds[i] = np.max(np.abs(1 - (data[i:] / xmin) ** (-alpha + 1) - np.arange(n) / n))
    i = np.argmin(Ds)
    return alphas[i], data[i], Ds[i]


def analyze(path):
    layers = [(k, w) for k, w in read_safetensors(path) if k.endswith(".weight") and w.ndim == 2 and min(w.shape) >= 10]
    alphas = []
    t0 = time.perf_counter()
    for name, W in layers:
        sv = scipy.linalg.svd(W.astype(np.float64), compute_uv=False)
        evals = np.sort(sv * sv)
        nz = evals[evals > 1e-5]
        alpha, xmin, D = ww_fit(nz)
        norm = np.sum(evals)
        _ = (np.log10(norm), np.log10(np.max(evals)), np.log10(np.sum([ev ** alpha for ev in evals])), norm / np.max(evals))
        alphas.append(float(alpha))
    return time.perf_counter() - t0, alphas


if __name__ == "__main__":
    seconds, alphas = analyze(sys.argv[1])
    print(json.dumps({"seconds": seconds, "layers": len(alphas), "alphas": alphas}))
