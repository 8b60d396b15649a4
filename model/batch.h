// An unpadded MLM batch: B sequences concatenated into one flat list of N tokens.
// Sequence b owns tokens [cu_seqlens[b], cu_seqlens[b+1]); no padding exists anywhere.
// The P predicted positions index the flat list; labels are the original tokens there.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/tensor.h"

namespace masklm {

struct Batch {
  std::vector<int32_t> tokens;        // (N) model input (after corruption)
  std::vector<int32_t> positions;     // (N) position ids
  std::vector<int32_t> types;         // (N) token-type ids, or empty
  std::vector<int32_t> cu_seqlens;    // (B + 1)
  std::vector<int32_t> predict_index; // (P) flat indices of predicted tokens
  std::vector<int32_t> labels;        // (P) target ids
  std::vector<uint8_t> corrupted;     // (N) 1 where masking replaced the token, or empty

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_sequences() const { return cu_seqlens.empty() ? 0 : static_cast<int64_t>(cu_seqlens.size()) - 1; }
  int64_t num_predictions() const { return static_cast<int64_t>(predict_index.size()); }

  // Appends one sequence with positions first_position, first_position+1, ...
  void add_sequence(const std::vector<int32_t>& ids, int32_t first_position = 0);
  // Marks flat token `index` as predicted with target `label`.
  void add_prediction(int32_t index, int32_t label);
  // Number of corrupted tokens (0 when `corrupted` is empty).
  int64_t num_corrupted() const;
  // Throws masklm::Error unless the arrays are consistent (sizes, offsets, index ranges).
  void validate(int64_t vocab_size, int64_t max_positions, int64_t type_vocab_size) const;
};

// A host I32 view of a vector (the CPU backend reads batches in place).
Tensor host_view(const std::vector<int32_t>& v);

}  // namespace masklm
