// Tokenizer throughput in MB/s of input text: the parity fixtures' BPE (RoBERTa-style) and
// WordPiece (BERT-style) tokenizers encode the fixture corpus, repeated to 4 MB, with
// encode_batch on 1 and 2 threads (wall-clock time). bench/tokenizer_peer.py times the
// `tokenizers` package on the same texts and thread counts, and runs this binary beside it.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "runtime/threads.h"

namespace masklm {
namespace {

constexpr size_t kTextBytes = 4 << 20;
const std::filesystem::path kFixtures =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "tests" / "fixtures";

// The corpus lines (empty ones left out: they cost nothing), repeated to kTextBytes.
std::vector<std::string> bench_texts() {
  std::vector<std::string> lines;
  std::ifstream in(kFixtures / "tokenizer_corpus.txt", std::ios::binary);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::vector<std::string> texts;
  for (size_t bytes = 0; bytes < kTextBytes && !lines.empty();) {
    for (const std::string& line : lines) {
      texts.push_back(line);
      bytes += line.size();
    }
  }
  return texts;
}

// Args: 0 = byte-level BPE, 1 = WordPiece; threads.
void BM_tokenizer_encode_batch(benchmark::State& state) {
  const char* file = state.range(0) == 0 ? "tokenizer_bpe.json" : "tokenizer_wordpiece.json";
  const auto tokenizer = Tokenizer::load(kFixtures / file);
  static const std::vector<std::string> texts = bench_texts();
  size_t bytes = 0;
  for (const std::string& t : texts) bytes += t.size();
  set_num_threads(static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer->encode_batch(texts, true));
  set_num_threads(0);
  state.SetLabel(state.range(0) == 0 ? "bpe" : "wordpiece");
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
}
BENCHMARK(BM_tokenizer_encode_batch)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"wordpiece", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace masklm
