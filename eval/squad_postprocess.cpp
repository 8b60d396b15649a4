#include "eval/squad_postprocess.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <optional>

#include "runtime/error.h"

namespace masklm {

namespace {

// Indices of the n highest values, highest first; ties keep the lower index first.
std::vector<int64_t> top_indices(const std::vector<double>& values, int64_t n) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  const size_t k = std::min(order.size(), static_cast<size_t>(n));
  std::partial_sort(
      order.begin(), order.begin() + static_cast<long>(k), order.end(), [&](int64_t a, int64_t b) {
        return values[static_cast<size_t>(a)] > values[static_cast<size_t>(b)] ||
               (values[static_cast<size_t>(a)] == values[static_cast<size_t>(b)] && a < b);
      });
  order.resize(k);
  return order;
}

}  // namespace

std::vector<SpanCandidate> window_candidates(const SquadFeature& f, const SpanLogits& logits,
                                             const SquadPostprocessOptions& o) {
  MASKLM_CHECK(logits.start.size() == f.ids.size() && logits.end.size() == f.ids.size(),
               "{} start and {} end logits for a window of {} tokens", logits.start.size(),
               logits.end.size(), f.ids.size());
  auto in_context = [&](int64_t i) { return i >= f.context_begin && i < f.context_end(); };
  std::vector<SpanCandidate> out;
  const std::vector<int64_t> ends = top_indices(logits.end, o.n_best);
  for (int64_t s : top_indices(logits.start, o.n_best)) {
    for (int64_t e : ends) {
      if (!in_context(s) || !in_context(e) || e < s || e - s + 1 > o.max_answer_length) continue;
      out.push_back({f.context_offsets[static_cast<size_t>(s - f.context_begin)].first,
                     f.context_offsets[static_cast<size_t>(e - f.context_begin)].second,
                     logits.start[static_cast<size_t>(s)] + logits.end[static_cast<size_t>(e)]});
    }
  }
  return out;
}

SquadPredictions postprocess_squad(const std::vector<SquadExample>& examples,
                                   const std::vector<SquadFeature>& features,
                                   const std::vector<SpanLogits>& logits, SquadVersion version,
                                   const SquadPostprocessOptions& o) {
  MASKLM_CHECK(features.size() == logits.size(), "{} features but logits for {}", features.size(),
               logits.size());
  std::vector<std::optional<SpanCandidate>> best(examples.size());
  std::vector<double> null_score(examples.size(), std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < features.size(); ++i) {
    const size_t e = features[i].example;
    MASKLM_CHECK(e < examples.size(), "feature {} belongs to example {} of {}", i, e,
                 examples.size());
    for (const SpanCandidate& c : window_candidates(features[i], logits[i], o))
      if (!best[e] || c.score > best[e]->score) best[e] = c;
    null_score[e] = std::min(null_score[e], logits[i].start[0] + logits[i].end[0]);
  }
  SquadPredictions out;
  for (size_t e = 0; e < examples.size(); ++e) {
    std::string& answer = out[examples[e].question->id];
    if (!best[e]) continue;  // no candidate: ""
    if (version == SquadVersion::V2_0 && null_score[e] - best[e]->score > o.null_threshold)
      continue;
    answer = examples[e].context->substr(best[e]->begin, best[e]->end - best[e]->begin);
  }
  return out;
}

}  // namespace masklm
