// A synthetic SQuAD task for the fine-tuning tests: find the one two-letter Cyrillic word among
// Latin letters, in the official JSON layout (eval/squad.h reads it).
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "eval/squad.h"

namespace masklm::testing {

// Latin letters are one WordPiece token each in the fixture's vocabulary (no articles among
// them); a Cyrillic consonant + vowel word is two tokens ("б", "##а").
inline const char* kLetters[] = {"b", "c", "d", "e", "f", "g", "h", "j", "k", "l", "m",
                                 "n", "o", "p", "r", "s", "t", "u", "v", "w", "y", "z"};
inline const char* kConsonants[] = {"б", "в", "г", "д", "ж", "з", "к", "л", "м"};
inline const char* kVowels[] = {"а", "е", "и", "о", "у"};

inline int64_t code_points(const std::string& s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Paragraphs of 12 to 35 random Latin letters with one two-letter Cyrillic word among them,
// which answers "which word is cyrillic?" (answer_start counted in characters, the text
// two tokens). v2.0: every other paragraph has no Cyrillic word, and no answer. Contexts
// longer than a window at max_length 32 (17 context tokens after the question) take two.
inline nlohmann::json synthetic_squad(int questions, uint32_t seed, SquadVersion version) {
  std::mt19937 rng(seed);
  nlohmann::json paragraphs = nlohmann::json::array();
  for (int q = 0; q < questions; ++q) {
    std::vector<std::string> words;
    for (int i = 0, n = 12 + static_cast<int>(rng() % 24); i < n; ++i)
      words.push_back(kLetters[rng() % 22]);
    const bool answerable = version == SquadVersion::V1_1 || q % 2 == 0;
    const size_t at = rng() % words.size();
    if (answerable) words[at] = std::string(kConsonants[rng() % 9]) + kVowels[rng() % 5];
    std::string context;
    int64_t answer_start = 0;
    for (size_t i = 0; i < words.size(); ++i) {
      if (i > 0) context += ' ';
      if (i == at) answer_start = code_points(context);
      context += words[i];
    }
    nlohmann::json answers = nlohmann::json::array();
    if (answerable) answers.push_back({{"text", words[at]}, {"answer_start", answer_start}});
    nlohmann::json qa = {{"id", fmt::format("q{}", q)},
                         {"question", "which word is cyrillic?"},
                         {"answers", answers}};
    if (version == SquadVersion::V2_0) qa["is_impossible"] = !answerable;
    paragraphs.push_back({{"context", context}, {"qas", {qa}}});
  }
  return {{"version", version == SquadVersion::V1_1 ? "1.1" : "v2.0"},
          {"data", {{{"title", "synthetic"}, {"paragraphs", paragraphs}}}}};
}

}  // namespace masklm::testing
