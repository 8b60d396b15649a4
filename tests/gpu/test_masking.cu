// The GPU's uniform masking (masking/gpu_masker.h) against the CPU Masker: for the same key
// and sequence indices, the same corrupted ids, predicted flags and corruption kinds, token
// for token, at several rate pairs (nested and not), with [MASK]-only, mixed and random-only
// replacement, uniform and frequency-weighted replacement draws, special tokens at the ends
// and inside, and sequences of 1, 127 and 513 tokens; bad inputs are reported, not read.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "expect_error.h"
#include "gpu/op_harness.cuh"
#include "masking/gpu_masker.h"
#include "test_masking_support.h"

namespace masklm {
namespace {

using testing::kCls;
using testing::kSep;

constexpr int32_t kVocab = 1000;

struct Case {
  double corrupt, predict, random_share;
  ReplacementDistribution distribution;
};

class GpuMaskingMatchesCpu : public ::testing::TestWithParam<Case> {};

TEST_P(GpuMaskingMatchesCpu, TokenForToken) {
  MASKLM_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  MaskingConfig config;
  config.random_share = c.random_share;
  config.replacement = c.distribution;
  const Masker masker(config, testing::weighted_vocab(kVocab));
  const MaskRates rates{c.corrupt, c.predict};
  const RngKey key = testing::masking_key(/*step=*/3, /*rank=*/1);
  constexpr uint64_t kFirstSequence = 40;

  std::vector<int32_t> cu_seqlens;
  const std::vector<int32_t> lengths = {1, 127, 513, 2, 128, 64, 3};
  const std::vector<int32_t> ids = testing::flat_batch(lengths, kVocab, cu_seqlens);
  const auto N = static_cast<int64_t>(ids.size());

  gpu_testing::GpuOps gpu;
  const GpuMasker gpu_masker(masker);
  const Tensor input = gpu.up(std::vector<int32_t>(ids.size(), -7)),
               predicted = gpu.up(std::vector<int32_t>(ids.size(), -7)),
               corruption = gpu.up(std::vector<int32_t>(ids.size(), -7));
  gpu_masker.mask(gpu.ctx, input, predicted, corruption, gpu.up(ids), gpu.up(cu_seqlens), rates,
                  key, kFirstSequence);
  const auto got_input = gpu.down<int32_t>(input), got_predicted = gpu.down<int32_t>(predicted),
             got_corruption = gpu.down<int32_t>(corruption);

  int64_t predicted_count = 0, corruption_counts[3] = {0, 0, 0};
  for (size_t b = 0; b + 1 < cu_seqlens.size(); ++b) {
    const auto begin = static_cast<size_t>(cu_seqlens[b]),
               end = static_cast<size_t>(cu_seqlens[b + 1]);
    const SequenceMasking m = masker.mask(std::span<const int32_t>(ids.data() + begin, end - begin),
                                          rates, key, kFirstSequence + b);
    for (size_t t = begin; t < end; ++t) {
      SCOPED_TRACE("sequence " + std::to_string(b) + ", token " + std::to_string(t - begin));
      ASSERT_EQ(got_input[t], m.input[t - begin]);
      ASSERT_EQ(got_predicted[t], m.predicted[t - begin]);
      ASSERT_EQ(got_corruption[t], static_cast<int32_t>(m.corruption[t - begin]));
      predicted_count += m.predicted[t - begin];
      ++corruption_counts[static_cast<int>(m.corruption[t - begin])];
    }
  }
  // Not vacuous: the rates selected tokens, and each replacement kind the case allows occurred.
  EXPECT_NEAR(static_cast<double>(predicted_count), c.predict * static_cast<double>(N), 0.1 * N);
  EXPECT_EQ(corruption_counts[1] > 0, c.corrupt > 0 && c.random_share < 1);
  EXPECT_EQ(corruption_counts[2] > 0, c.corrupt > 0 && c.random_share > 0);
  gpu.expect_guards_intact();
}

INSTANTIATE_TEST_SUITE_P(
    Rates, GpuMaskingMatchesCpu,
    ::testing::Values(
        Case{0.135, 0.15, 0.1 / 0.9, ReplacementDistribution::UNIFORM},  // BERT 80-10-10
        Case{0.4, 0.4, 0.0, ReplacementDistribution::UNIFORM},           // the paper's 40%
        Case{0.8, 0.2, 0.5, ReplacementDistribution::FREQUENCY},    // corrupt more than predicted
        Case{0.3, 0.3, 1.0, ReplacementDistribution::FREQUENCY}));  // random only

TEST(GpuMasking, BadIdsAndOffsetsAreReportedAndOtherStrategiesRefused) {
  MASKLM_SKIP_WITHOUT_GPU();
  const Masker masker(MaskingConfig{}, testing::plain_vocab(kVocab));
  const GpuMasker gpu_masker(masker);
  gpu_testing::GpuOps gpu;
  const auto run = [&](std::vector<int32_t> ids, std::vector<int32_t> cu) {
    const std::vector<int32_t> zeros(ids.size());
    gpu_masker.mask(gpu.ctx, gpu.up(zeros), gpu.up(zeros), gpu.up(zeros), gpu.up(ids), gpu.up(cu),
                    MaskRates{0.5, 0.5}, testing::masking_key(), 0);
    gpu.cuda.synchronize();
  };
  testing::expect_error([&] { run({kCls, kVocab, kSep}, {0, 3}); }, "outside its table");
  testing::expect_error([&] { run({kCls, 5, kSep}, {0, 4}); }, "cu_seqlens");
  gpu.expect_guards_intact();

  MaskingConfig spans;
  spans.strategy = MaskingStrategy::SPAN;
  const Masker span_masker(spans, testing::plain_vocab(kVocab));
  testing::expect_error([&] { GpuMasker g(span_masker); }, "uniform only");
}

}  // namespace
}  // namespace masklm
