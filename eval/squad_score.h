// SQuAD exact match and F1 as the official evaluation scripts (evaluate-v1.1.py,
// evaluate-v2.0.py) compute them: answers normalized (lowercase, ASCII punctuation removed,
// the articles a/an/the removed, whitespace collapsed), token-overlap F1, the maximum over
// the gold answers. Differences between the two scripts are kept: v2.0 drops gold answers
// that normalize to nothing (an unanswerable question's gold is the empty answer) and gives
// F1 = 1 when prediction and gold are both empty, where v1.1 gives 0.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "eval/squad.h"

namespace masklm {

// normalize_answer of the official scripts. Non-ASCII text is lowercased and split the
// way Python's str.lower()/str.split() and the \b of its re module treat it.
std::string normalize_squad_answer(std::string_view text);

double squad_exact(std::string_view gold, std::string_view predicted);
double squad_f1(std::string_view gold, std::string_view predicted, SquadVersion version);

// question id -> predicted answer text ("" for no answer), the official prediction file.
using SquadPredictions = std::map<std::string, std::string>;
SquadPredictions read_squad_predictions(const std::filesystem::path& path);

struct SquadScore {
  double exact = 0, f1 = 0;  // percentages, as the official scripts print them
  int64_t total = 0;
};

struct SquadResult {
  SquadScore all;
  SquadScore has_answer, no_answer;  // v2.0's HasAns/NoAns breakdown (totals 0 for v1.1)
  // Questions without a prediction score 0 (evaluate-v1.1.py's rule; evaluate-v2.0.py
  // cannot score them at all); predictions for unknown ids are ignored, as both scripts do.
  int64_t missing_predictions = 0, unknown_predictions = 0;
};

SquadResult score_squad(const SquadDataset& gold, const SquadPredictions& predicted);

}  // namespace masklm
