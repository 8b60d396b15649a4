#!/usr/bin/env python3
"""The PyTorch peer of bench_cuda_train_step: training steps (forward, backward, AdamW) of
Hugging Face RobertaPreLayerNormForMaskedLM on one GPU, built from a config with random
weights (nothing is downloaded), bf16 autocast, SDPA attention, torch.compile, fused AdamW,
dropout 0.1, vocabulary 30522, 128 sequences of 128 random tokens with each position
predicted with each given probability (labels -100 elsewhere), BERT-base or BERT-large
shape. Each rate's batch is built once on the GPU, as masklm's benchmark builds its batch
once; the shapes do not depend on the rate, so the model compiles once for all rates.
Prints one JSON line per rate: median step time, tokens/s, peak memory allocated.
bench/gpu_throughput runs it beside masklm.

Needs: a CUDA GPU, pip install torch transformers
Run:   python3 bench/gpu_throughput_peer.py --preset base --mask-rates 0.15,0.4,0.8 [--no-compile]
"""
import argparse
import json
import statistics

import torch
from transformers import RobertaPreLayerNormConfig, RobertaPreLayerNormForMaskedLM

PRESETS = {"base": (12, 768, 12, 3072), "large": (24, 1024, 16, 4096)}  # L, C, NH, F
VOCAB, SEQ, SEQUENCES = 30522, 128, 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=PRESETS, default="base")
    ap.add_argument("--mask-rates", default="0.15", help="comma-separated prediction rates")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps (compilation happens here)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    device = torch.device("cuda")
    L, C, NH, F = PRESETS[a.preset]
    config = RobertaPreLayerNormConfig(vocab_size=VOCAB, hidden_size=C, num_hidden_layers=L,
                                       num_attention_heads=NH, intermediate_size=F,
                                       max_position_embeddings=SEQ + 2, type_vocab_size=1,
                                       hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                                       attn_implementation="sdpa")
    model = RobertaPreLayerNormForMaskedLM(config).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-6,
                            weight_decay=0.01, fused=True)
    step_model = model if a.no_compile else torch.compile(model)

    for rate in (float(r) for r in a.mask_rates.split(",")):
        input_ids = torch.randint(5, VOCAB, (SEQUENCES, SEQ), device=device)
        predicted = torch.rand(SEQUENCES, SEQ, device=device) < rate
        labels = torch.where(predicted, input_ids, torch.full_like(input_ids, -100))
        step_s = time_steps(step_model, opt, input_ids, labels, a.warmup, a.steps)
        print(json.dumps({"preset": a.preset, "mask_rate": rate, "compiled": not a.no_compile,
                          "torch": torch.__version__, "gpu": torch.cuda.get_device_name(),
                          "predicted": int(predicted.sum()), "step_s": step_s,
                          "tokens_per_s": SEQ * SEQUENCES / step_s,
                          "peak_memory_bytes": torch.cuda.max_memory_allocated()}), flush=True)


def time_steps(model, opt, input_ids, labels, warmup, steps):
    """Median seconds per training step, after `warmup` untimed steps."""
    def step():
        # No attention_mask: there is no padding, and under torch.compile transformers keeps
        # even an all-ones mask as a 4-D tensor, which rules out SDPA's flash backend.
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    seconds = []
    for _ in range(steps):
        start.record()
        step()
        stop.record()
        stop.synchronize()
        seconds.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(seconds)

if __name__ == "__main__":
    main()
