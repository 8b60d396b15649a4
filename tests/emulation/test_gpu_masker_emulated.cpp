// The uniform masking kernel (masking/gpu_masker_kernels.cuh) under the CUDA emulation
// against the CPU Masker, token for token, as tests/gpu/test_masking.cu checks it on a GPU:
// the same keys and sequence indices give the same corrupted ids, predicted flags and
// corruption kinds, for BERT's 80-10-10 and random-only replacement with frequency weights,
// special tokens at the ends and inside, and sequences of 1 to 127 tokens. Bad ids and
// offsets raise the device flag.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "emulated_test_support.h"
#include "masking/gpu_masker_kernels.cuh"
#include "test_masking_support.h"

namespace masklm {
namespace {

using testing::kCls;
using testing::kSep;

constexpr int32_t kVocab = 300;

// The kernel's inputs for `masker`, as GpuMasker::mask assembles them, over host vectors.
struct HostMaskInputs {
  std::vector<int32_t> is_special, replacement_ids, order;
  std::vector<double> replacement_cdf;
  std::vector<int32_t> input, predicted, corruption;

  HostMaskInputs(const Masker& masker, size_t tokens)
      : is_special(masker.vocab().is_special.begin(), masker.vocab().is_special.end()),
        order(tokens, -1),
        input(tokens, -7),
        predicted(tokens, -7),
        corruption(tokens, -7) {
    if (const ReplacementSampler* r = masker.replacement()) {
      replacement_ids = r->ids();
      replacement_cdf = r->cdf();
    }
  }
  MaskArgs args(const Masker& masker, const std::vector<int32_t>& ids,
                const std::vector<int32_t>& cu, const MaskRates& rates, const RngKey& key,
                uint64_t first_sequence, int* error_flag) {
    MaskArgs a{};
    a.ids = ids.data();
    a.cu_seqlens = cu.data();
    a.sequences = static_cast<int64_t>(cu.size()) - 1;
    a.tokens = static_cast<int64_t>(ids.size());
    a.input = input.data();
    a.predicted = predicted.data();
    a.corruption = corruption.data();
    a.order = order.data();
    a.is_special = is_special.data();
    a.vocab_size = masker.vocab().size;
    a.mask_id = masker.vocab().mask_id;
    a.replacements = static_cast<int64_t>(replacement_ids.size());
    a.replacement_ids = replacement_ids.data();
    a.replacement_cdf = replacement_cdf.data();
    a.predict_rate = rates.predict;
    a.corrupt_rate = rates.corrupt;
    a.random_share = masker.config().random_share;
    a.key = key;
    a.first_sequence = first_sequence;
    a.error_flag = error_flag;
    return a;
  }
};

void run_kernel(const MaskArgs& a) {
  emulator::launch(uniform_mask_kernel,
                   {static_cast<unsigned>(cuda::CEIL_DIV(a.sequences, kThreads)), 1, 1}, kThreads,
                   0, a);
}

struct Case {
  double corrupt, predict, random_share;
};

class GpuMaskerEmulated : public ::testing::TestWithParam<Case> {};

TEST_P(GpuMaskerEmulated, MatchesTheCpuMaskerTokenForToken) {
  const Case c = GetParam();
  MaskingConfig config;
  config.random_share = c.random_share;
  config.replacement = ReplacementDistribution::FREQUENCY;
  const Masker masker(config, testing::weighted_vocab(kVocab));
  const MaskRates rates{c.corrupt, c.predict};
  const RngKey key = testing::masking_key(/*step=*/3, /*rank=*/1);
  constexpr uint64_t kFirstSequence = 40;

  std::vector<int32_t> cu;
  const std::vector<int32_t> ids = testing::flat_batch({1, 127, 2, 64, 3}, kVocab, cu);
  HostMaskInputs host(masker, ids.size());
  int error_flag = 0;
  run_kernel(host.args(masker, ids, cu, rates, key, kFirstSequence, &error_flag));
  EXPECT_EQ(error_flag, 0);

  int64_t predicted = 0, corrupted = 0;
  for (size_t b = 0; b + 1 < cu.size(); ++b) {
    const auto begin = static_cast<size_t>(cu[b]), end = static_cast<size_t>(cu[b + 1]);
    const SequenceMasking m = masker.mask(std::span<const int32_t>(ids.data() + begin, end - begin),
                                          rates, key, kFirstSequence + b);
    for (size_t t = begin; t < end; ++t) {
      SCOPED_TRACE("sequence " + std::to_string(b) + ", token " + std::to_string(t - begin));
      ASSERT_EQ(host.input[t], m.input[t - begin]);
      ASSERT_EQ(host.predicted[t], m.predicted[t - begin]);
      ASSERT_EQ(host.corruption[t], static_cast<int32_t>(m.corruption[t - begin]));
      predicted += m.predicted[t - begin];
      corrupted += m.corruption[t - begin] != Corruption::NONE;
    }
  }
  EXPECT_GT(predicted, 0);  // not vacuous
  EXPECT_GT(corrupted, 0);
}

INSTANTIATE_TEST_SUITE_P(Rates, GpuMaskerEmulated,
                         ::testing::Values(Case{0.135, 0.15, 0.1 / 0.9},  // BERT 80-10-10
                                           Case{0.8, 0.2, 0.5},    // corrupt more than predicted
                                           Case{0.3, 0.3, 1.0}));  // random only

TEST(GpuMaskerEmulatedErrors, BadIdsAndOffsetsRaiseTheDeviceFlag) {
  const Masker masker(MaskingConfig{}, testing::plain_vocab(kVocab));
  const auto flag_for = [&](const std::vector<int32_t>& ids, const std::vector<int32_t>& cu) {
    HostMaskInputs host(masker, ids.size());
    int error_flag = 0;
    run_kernel(
        host.args(masker, ids, cu, MaskRates{0.5, 0.5}, testing::masking_key(), 0, &error_flag));
    return error_flag;
  };
  EXPECT_EQ(flag_for({kCls, kVocab, kSep}, {0, 3}),
            static_cast<int>(DeviceError::INDEX_OUT_OF_RANGE));
  EXPECT_EQ(flag_for({kCls, 5, kSep}, {0, 4}), static_cast<int>(DeviceError::BAD_CU_SEQLENS));
  EXPECT_EQ(flag_for({kCls, 5, kSep}, {0, 3}), 0);
}

}  // namespace
}  // namespace masklm
