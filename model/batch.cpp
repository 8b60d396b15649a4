#include "model/batch.h"

#include "runtime/error.h"

namespace masklm {

void Batch::add_sequence(const std::vector<int32_t>& ids, int32_t first_position) {
  if (cu_seqlens.empty()) cu_seqlens.push_back(0);
  for (size_t i = 0; i < ids.size(); ++i) {
    tokens.push_back(ids[i]);
    positions.push_back(first_position + static_cast<int32_t>(i));
  }
  cu_seqlens.push_back(static_cast<int32_t>(tokens.size()));
}

void Batch::add_prediction(int32_t index, int32_t label) {
  predict_index.push_back(index);
  labels.push_back(label);
}

int64_t Batch::num_corrupted() const {
  int64_t n = 0;
  for (uint8_t c : corrupted) n += c != 0;
  return n;
}

void Batch::validate(int64_t vocab_size, int64_t max_positions, int64_t type_vocab_size) const {
  const int64_t n = num_tokens();
  MASKLM_CHECK(n > 0, "batch has no tokens");
  MASKLM_CHECK(positions.size() == tokens.size(), "batch has {} positions for {} tokens",
               positions.size(), n);
  MASKLM_CHECK(types.empty() || types.size() == tokens.size(), "batch has {} type ids for {} tokens",
               types.size(), n);
  MASKLM_CHECK(corrupted.empty() || corrupted.size() == tokens.size(), "batch has {} corruption flags for {} tokens",
               corrupted.size(), n);
  MASKLM_CHECK(cu_seqlens.size() >= 2 && cu_seqlens.front() == 0 && cu_seqlens.back() == n,
               "cu_seqlens must start at 0 and end at the token count {}", n);
  for (size_t b = 1; b < cu_seqlens.size(); ++b)
    MASKLM_CHECK(cu_seqlens[b] > cu_seqlens[b - 1], "sequence {} is empty or offsets decrease", b - 1);
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    MASKLM_CHECK(0 <= tokens[k] && tokens[k] < vocab_size, "token id {} at {} outside vocabulary of {}",
                 tokens[k], i, vocab_size);
    MASKLM_CHECK(0 <= positions[k] && positions[k] < max_positions,
                 "position {} at {} exceeds max_position_embeddings {}", positions[k], i, max_positions);
    if (!types.empty())
      MASKLM_CHECK(0 <= types[k] && types[k] < type_vocab_size, "type id {} at {} outside type vocabulary of {}",
                   types[k], i, type_vocab_size);
  }
  MASKLM_CHECK(predict_index.size() == labels.size(), "batch has {} predictions and {} labels",
               predict_index.size(), labels.size());
  for (size_t p = 0; p < labels.size(); ++p) {
    MASKLM_CHECK(0 <= predict_index[p] && predict_index[p] < n, "predicted index {} outside the {} tokens",
                 predict_index[p], n);
    MASKLM_CHECK(0 <= labels[p] && labels[p] < vocab_size, "label {} outside vocabulary of {}", labels[p],
                 vocab_size);
  }
}

Tensor host_view(const std::vector<int32_t>& v) {
  // The CPU backend reads batches in place; ops never write through input views.
  if (v.empty()) return Tensor{};
  return host_tensor(const_cast<int32_t*>(v.data()), Shape{static_cast<int64_t>(v.size())});
}

}  // namespace masklm
