// Shared by the tokenizer tests: fixture paths, the parity corpus, and the comparison with
// the encodings `tokenizers` recorded (tests/fixtures/make_tokenizer_fixtures.py).
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "fixture_path.h"

namespace masklm::testing {

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

// The corpus lines, split on '\n' only (the corpus holds U+2028 and U+0085 on purpose).
inline std::vector<std::string> corpus_lines() {
  std::ifstream in(fixture("tokenizer_corpus.txt"), std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every recorded text of fixture section `key` encodes and decodes as `tokenizers` did.
inline void expect_hf_parity(const Tokenizer& tok, const std::string& key) {
  static const nlohmann::json cases = read_json(fixture("tokenizer_parity.json"));
  ASSERT_TRUE(cases.contains(key)) << key << " missing: rerun make_tokenizer_fixtures.py";
  ASSERT_GE(cases[key].size(), corpus_lines().size());
  size_t failures = 0;
  for (const nlohmann::json& c : cases[key]) {
    const std::string text = c["text"];
    const Encoding e = tok.encode(text, true);
    std::vector<std::pair<size_t, size_t>> offsets;
    for (const auto& o : c["offsets"]) offsets.emplace_back(o[0], o[1]);
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    const bool same = e.ids == ids && e.offsets == offsets &&
                      e.word_ids == c["word_ids"].get<std::vector<int32_t>>() &&
                      tok.decode(e.ids, true) == c["decoded"].get<std::string>() &&
                      tok.decode(e.ids, false) == c["decoded_with_special"].get<std::string>();
    if (!same && ++failures <= 5) {
      std::ostringstream got;
      for (size_t i = 0; i < e.ids.size(); ++i)
        got << e.ids[i] << "(" << e.offsets[i].first << "," << e.offsets[i].second << ";w"
            << e.word_ids[i] << ") ";
      ADD_FAILURE() << key << ": '" << text << "'\n got " << got.str() << "\n want "
                    << c["ids"].dump() << " " << c["offsets"].dump() << " " << c["word_ids"].dump()
                    << "\n decoded '" << tok.decode(e.ids, true) << "' want "
                    << c["decoded"].dump();
    }
  }
  EXPECT_EQ(failures, 0u) << "of " << cases[key].size() << " texts";
}

}  // namespace masklm::testing
