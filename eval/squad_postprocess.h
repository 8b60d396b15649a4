// From span logits back to answer text, as Hugging Face's run_qa.py post-processing
// (utils_qa.postprocess_qa_predictions) does it. In each window, the n_best highest start
// logits are paired with the n_best highest end logits; a pair is a candidate when both
// tokens are context tokens, start <= end and it spans at most max_answer_length tokens;
// its score is start logit + end logit and its text the context bytes from the start
// token's first byte to the end token's last. A question's answer is its best candidate
// over all its windows, "" when it has none.
//
// SQuAD v2.0 adds the null answer: its score is the smallest start + end logit at position
// 0 ([CLS] / <s>) over the question's windows, and the answer is "" when the null score
// exceeds the best candidate's score by more than null_threshold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "eval/squad_features.h"
#include "eval/squad_score.h"
#include "model/span_extraction.h"

namespace masklm {

struct SquadPostprocessOptions {
  int64_t n_best = 20;             // start and end positions tried per window
  int64_t max_answer_length = 30;  // tokens
  double null_threshold = 0.0;     // v2.0: "" when null score - best score > this
};

struct SpanCandidate {
  size_t begin = 0, end = 0;  // byte range in the context
  double score = 0;           // start logit + end logit
};

// The window's candidates, in order of start rank, then end rank.
std::vector<SpanCandidate> window_candidates(const SquadFeature& feature, const SpanLogits& logits,
                                             const SquadPostprocessOptions& options);

// Every example's answer from the logits of all features (logits[i] belongs to features[i]).
// Ties go to the earlier window, then to the earlier candidate.
SquadPredictions postprocess_squad(const std::vector<SquadExample>& examples,
                                   const std::vector<SquadFeature>& features,
                                   const std::vector<SpanLogits>& logits, SquadVersion version,
                                   const SquadPostprocessOptions& options);

}  // namespace masklm
