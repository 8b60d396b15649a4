#!/usr/bin/env python3
"""The PyTorch peer of bench_cuda_flash_attention: scaled_dot_product_attention in bf16 at the
same shapes (16384 tokens as 128 sequences of 128 or 32 of 512; BERT-base 12 heads and
BERT-large 16 heads; head size 64; dropout 0 and 0.1), forward and forward + backward, with
each SDPA backend PyTorch has here: FLASH_ATTENTION (FlashAttention-2), CUDNN_ATTENTION
(cuDNN's fused SDPA, issue 6's baseline) and EFFICIENT_ATTENTION. q, k, v are views of one
packed (N, 3C) tensor, masklm's qkv layout. FLOPs are counted as in the C++ benchmark
(forward 4*N*T*C, backward 2.5x that). Prints one JSON line per measurement (median
milliseconds over the timed calls, TFLOP/s); a backend that refuses a configuration is
reported with its error instead.

Needs: torch with CUDA (no masklm build)
Run:   python3 bench/attention_peer.py [--iters 50]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

TOKENS, HS = 16384, 64
SHAPES = {"base": 768, "large": 1024}  # C; NH = C / 64
BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION}


def median_ms(fn, iters):
    fn()  # warm-up: kernel selection, workspace
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def measure(shape, C, T, dropout, backend, iters):
    B, NH = TOKENS // T, C // HS
    qkv = (torch.rand(TOKENS, 3 * C, device="cuda", dtype=torch.bfloat16) * 2 - 1).requires_grad_()
    dout = torch.rand(B, NH, T, HS, device="cuda", dtype=torch.bfloat16) * 2 - 1

    def heads(section):  # (B, NH, T, HS) view of q, k or v in the packed rows
        return qkv[:, section * C:(section + 1) * C].view(B, T, NH, HS).transpose(1, 2)

    def forward():
        return F.scaled_dot_product_attention(heads(0), heads(1), heads(2), dropout_p=dropout)

    def forward_backward():
        forward().backward(dout)

    flops = 4.0 * TOKENS * T * C
    row = {"shape": shape, "T": T, "dropout": dropout, "backend": backend}
    try:
        with sdpa_kernel(BACKENDS[backend]):
            with torch.no_grad():  # like masklm's forward: no autograd graph
                fwd = median_ms(forward, iters)
            fwd_bwd = median_ms(forward_backward, iters)
    except RuntimeError as e:  # the backend does not support this configuration
        row["error"] = str(e).splitlines()[0][:200]
        return row
    row.update(forward_ms=fwd, forward_tflops=flops / fwd / 1e9,
               forward_backward_ms=fwd_bwd, forward_backward_tflops=3.5 * flops / fwd_bwd / 1e9)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                      "cudnn": torch.backends.cudnn.version()}))
    for shape, C in SHAPES.items():
        for T in (128, 512):
            for dropout in (0.0, 0.1):
                for backend in BACKENDS:
                    print(json.dumps(measure(shape, C, T, dropout, backend, args.iters)), flush=True)


if __name__ == "__main__":
    main()
