#include "train/synthetic_task.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "runtime/error.h"
#include "runtime/philox.h"

namespace masklm {

Batch SyntheticTask::batch(int64_t step, int64_t first, int64_t count) const {
  MASKLM_CHECK(vocab_size >= 3 && seq_len >= 2 && sequences >= 1 && period >= 1 && mask_rate > 0 && mask_rate < 1,
               "synthetic task needs vocab_size >= 3, seq_len >= 2, sequences >= 1, period >= 1, mask_rate in (0, 1)");
  MASKLM_CHECK(first >= 0 && count >= 1 && first + count < (int64_t{1} << 24),
               "synthetic sequences [{}, {}) out of range", first, first + count);
  const uint32_t ordinary = static_cast<uint32_t>(vocab_size - 1);

  Batch b;
  for (int64_t s = first; s < first + count; ++s) {
    const RngKey key{seed, static_cast<uint32_t>(step), 0, RngStream::DATA_ORDER, static_cast<uint32_t>(s)};
    uint64_t draw = 0;
    auto next = [&] { return philox_u32(key, draw++); };
    const int64_t len = seq_len / 2 + next() % static_cast<uint32_t>(seq_len - seq_len / 2 + 1);
    std::vector<int32_t> motif(static_cast<size_t>(period));
    for (auto& t : motif) t = 1 + static_cast<int32_t>(next() % ordinary);
    std::vector<int32_t> ids(static_cast<size_t>(len));
    for (int64_t i = 0; i < len; ++i) ids[static_cast<size_t>(i)] = motif[static_cast<size_t>(i % period)];

    // Mask a random subset: the first k of a random permutation (Fisher-Yates).
    std::vector<int32_t> order(static_cast<size_t>(len));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = len - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[next() % (i + 1)]);
    const int64_t k = std::max<int64_t>(1, std::llround(mask_rate * static_cast<double>(len)));
    const int32_t offset = static_cast<int32_t>(b.num_tokens());
    std::vector<int32_t> input = ids;
    std::vector<uint8_t> corrupted(static_cast<size_t>(len), 0);
    std::sort(order.begin(), order.begin() + k);
    for (int64_t j = 0; j < k; ++j) {
      const int32_t i = order[static_cast<size_t>(j)];
      input[static_cast<size_t>(i)] = kMaskToken;
      corrupted[static_cast<size_t>(i)] = 1;
      b.add_prediction(offset + i, ids[static_cast<size_t>(i)]);
    }
    b.add_sequence(input);
    b.corrupted.insert(b.corrupted.end(), corrupted.begin(), corrupted.end());
  }
  return b;
}

}  // namespace masklm
