// Shared pieces of the fine-tuning tests: a learnable SST-2-style task (one sentiment word
// among filler words decides the label) in GLUE's TSV layout.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace masklm::testing {

// `rows` sentences with a header line; the first positive_fraction of them are positive.
inline std::string sentiment_tsv(int rows, double positive_fraction, uint32_t seed) {
  const char* filler[] = {"the", "movie",  "was", "a",    "story",
                          "of",  "actors", "and", "plot", "with"};
  std::mt19937 rng(seed);
  std::string tsv = "sentence\tlabel\n";
  for (int r = 0; r < rows; ++r) {
    const bool positive = r < positive_fraction * rows;
    std::vector<std::string> words;
    for (int i = 0, n = 3 + static_cast<int>(rng() % 5); i < n; ++i)
      words.push_back(filler[rng() % 10]);
    words.insert(words.begin() + static_cast<long>(rng() % words.size()),
                 positive ? "great" : "awful");
    std::string sentence;
    for (const std::string& w : words) sentence += (sentence.empty() ? "" : " ") + w;
    tsv += sentence + (positive ? "\t1\n" : "\t0\n");
  }
  return tsv;
}

}  // namespace masklm::testing
