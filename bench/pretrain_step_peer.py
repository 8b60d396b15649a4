#!/usr/bin/env python3
"""The PyTorch peer of bench_cpu_train_step: one training step (forward, backward, AdamW) of
Hugging Face RobertaPreLayerNormForMaskedLM on the CPU, with DataCollatorForLanguageModeling
masking each step's batch (its time included), 32 sequences of 128 random tokens, at the
BERT-mini or BERT-small shape, dropout 0.1, vocab 30522. Prints one JSON line with the
median tokens/s over the timed steps. bench/pretrain_step runs it beside masklm.

Needs: pip install torch transformers
Run:   python3 bench/pretrain_step_peer.py --preset mini --mask-rate 0.15 --threads 2
"""
import argparse
import json
import statistics
import time

import torch
from transformers import (DataCollatorForLanguageModeling, PreTrainedTokenizerFast,
                          RobertaPreLayerNormConfig, RobertaPreLayerNormForMaskedLM)
from tokenizers import Tokenizer, models

PRESETS = {"mini": (4, 256, 4, 1024), "small": (4, 512, 8, 2048)}  # L, C, NH, F
VOCAB, SEQ, SEQUENCES = 30522, 128, 32


def collator(mask_rate):
    # The collator only needs the special-token ids and the vocabulary size; a word-level
    # tokenizer over placeholder tokens gives it both without a download.
    vocab = {f"t{i}": i for i in range(5, VOCAB)}
    vocab.update({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4})
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
                                  bos_token="<s>", pad_token="<pad>", eos_token="</s>",
                                  unk_token="<unk>", mask_token="<mask>")
    return DataCollatorForLanguageModeling(tok, mlm=True, mlm_probability=mask_rate, return_tensors="pt")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=PRESETS, default="mini")
    ap.add_argument("--mask-rate", type=float, default=0.15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    L, C, NH, F = PRESETS[a.preset]
    config = RobertaPreLayerNormConfig(vocab_size=VOCAB, hidden_size=C, num_hidden_layers=L,
                                       num_attention_heads=NH, intermediate_size=F,
                                       max_position_embeddings=SEQ + 2, type_vocab_size=1)
    model = RobertaPreLayerNormForMaskedLM(config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    collate = collator(a.mask_rate)
    examples = [{"input_ids": torch.randint(5, VOCAB, (SEQ,)).tolist()} for _ in range(SEQUENCES)]

    seconds = []
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        batch = collate(examples)
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            seconds.append(time.perf_counter() - start)
    print(json.dumps({"preset": a.preset, "mask_rate": a.mask_rate, "threads": a.threads,
                      "torch": torch.__version__, "step_s": statistics.median(seconds),
                      "tokens_per_s": SEQ * SEQUENCES / statistics.median(seconds)}))


if __name__ == "__main__":
    main()
