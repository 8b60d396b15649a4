#!/usr/bin/env python3
"""Times the `tokenizers` package (encode_batch) on the texts bench_cpu_tokenizer encodes:
the fixture corpus without its empty lines, repeated to 4 MB, with the parity fixtures'
BPE and WordPiece tokenizers, on 1 and 2 threads. With --bench it runs masklm's benchmark
binary too, so both are measured in the same run on the same machine.

Needs: pip install tokenizers
Run:   python3 bench/tokenizer_peer.py [--bench build/cpu/bench/bench_cpu_tokenizer]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
TEXT_BYTES = 4 << 20


def texts():
    lines = [l for l in (FIXTURES / "tokenizer_corpus.txt").read_text(encoding="utf-8")
             .split("\n") if l]
    out, size = [], 0
    while size < TEXT_BYTES:
        for line in lines:
            out.append(line)
            size += len(line.encode("utf-8"))
    return out, size


def time_one(kind, threads):
    """Runs in a child process: rayon reads its thread count once, at first use."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(FIXTURES / f"tokenizer_{kind}.json"))
    batch, size = texts()
    tok.encode_batch(batch[:1000])  # warm-up (thread pool, caches)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        tok.encode_batch(batch, add_special_tokens=True)
        best = min(best, time.perf_counter() - start)
    print(f"tokenizers {kind:9s} threads={threads}: {size / best / 1e6:8.1f} MB/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", help="path of masklm's bench_cpu_tokenizer binary")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        time_one(args.child[0], int(args.child[1]))
        return
    for kind in ("bpe", "wordpiece"):
        for threads in (1, 2):
            env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
            subprocess.run([sys.executable, __file__, "--child", kind, str(threads)], env=env,
                           check=True)
    if args.bench:
        subprocess.run([args.bench, "--benchmark_counters_tabular=true"],
                       env=dict(os.environ, OMP_WAIT_POLICY="passive"), check=True)


if __name__ == "__main__":
    main()
