// The batch the training-step benchmarks (CPU and GPU) time: `sequences` sequences of
// `seq_len` random tokens, each position predicted with probability `predict_rate`. It is
// built once: masking costs microseconds per step and is not what is measured. Predicted
// tokens are also marked corrupted (the [MASK]-only recipe), which only the skip-corrupted
// model looks at.
#pragma once

#include <random>
#include <vector>

#include "model/batch.h"

namespace masklm::bench {

inline Batch random_mlm_batch(int64_t sequences, int64_t seq_len, int64_t vocab,
                              double predict_rate, uint32_t seed) {
  std::mt19937 rng(seed);
  Batch b;
  for (int64_t s = 0; s < sequences; ++s) {
    std::vector<int32_t> ids(static_cast<size_t>(seq_len));
    for (auto& t : ids) t = static_cast<int32_t>(rng() % vocab);
    const int32_t offset = static_cast<int32_t>(b.num_tokens());
    b.add_sequence(ids);
    for (int64_t i = 0; i < seq_len; ++i) {
      const bool predicted = std::uniform_real_distribution<double>(0, 1)(rng) < predict_rate;
      b.corrupted.push_back(predicted);
      if (predicted)
        b.add_prediction(offset + static_cast<int32_t>(i), ids[static_cast<size_t>(i)]);
    }
  }
  return b;
}

}  // namespace masklm::bench
