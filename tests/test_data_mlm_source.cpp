// MLM batches from packed shards: the packed sequences come through masked, the global
// batch does not depend on the micro-batch split, and any step is computed directly.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "data/shard_writer.h"
#include "data_test_support.h"
#include "masking/vocab_info.h"
#include "train/mlm_batch_source.h"

namespace masklm {
namespace {

using testing::WordTokenizer;

class MlmSourceTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ShardWriter w(dir_ / "a.shard", tokenizer_.vocab_hash(), tokenizer_.vocab_size());
    for (int d = 0; d < 60; ++d) {
      std::vector<int32_t> doc;
      for (int i = 0; i < 5 + d % 13; ++i) doc.push_back(WordTokenizer::kFirstWord + (d * 31 + i * 7) % 900);
      w.add_document(doc);
    }
    w.finish();
    std::vector<ShardReader> shards;
    shards.emplace_back(dir_ / "a.shard");
    data_ = std::make_shared<PackedDataset>(std::move(shards), 16, PackingTokens::from(tokenizer_.special_tokens()));
    masker_ = std::make_shared<Masker>(MaskingConfig{}, vocab_info_from_tokenizer(tokenizer_));
  }

  MlmBatchSource source(int64_t micro_batch_size, int64_t micro_steps) const {
    MlmSourceOptions o;
    o.micro_batch_size = micro_batch_size;
    o.micro_steps = micro_steps;
    o.total_steps = 100;
    o.seed = 11;
    return MlmBatchSource(data_, masker_, o);
  }

  // The batch's sequences before masking: predicted tokens restored from their labels.
  static std::vector<std::vector<int32_t>> originals(const Batch& b) {
    std::vector<int32_t> tokens = b.tokens;
    for (int64_t p = 0; p < b.num_predictions(); ++p)
      tokens[static_cast<size_t>(b.predict_index[static_cast<size_t>(p)])] = b.labels[static_cast<size_t>(p)];
    std::vector<std::vector<int32_t>> out;
    for (int64_t s = 0; s < b.num_sequences(); ++s)
      out.emplace_back(tokens.begin() + b.cu_seqlens[static_cast<size_t>(s)],
                       tokens.begin() + b.cu_seqlens[static_cast<size_t>(s) + 1]);
    return out;
  }

  WordTokenizer tokenizer_{1000};
  std::shared_ptr<PackedDataset> data_;
  std::shared_ptr<Masker> masker_;
};

TEST_F(MlmSourceTest, BatchesHoldMaskedPackedSequencesInTheDataOrder) {
  const MlmBatchSource s = source(4, 2);
  const SequenceOrder order(data_->num_sequences(), 11);
  for (int64_t step : {0, 3, 9}) {  // 9 runs past the first epoch
    for (int64_t micro = 0; micro < 2; ++micro) {
      const Batch b = s.batch(step, micro);
      EXPECT_NO_THROW(b.validate(tokenizer_.vocab_size(), 16, 0));
      EXPECT_GT(b.num_predictions(), 0);
      const auto seqs = originals(b);
      ASSERT_EQ(seqs.size(), 4u);
      for (int64_t j = 0; j < 4; ++j) {
        std::vector<int32_t> expected;
        data_->sequence(order.at(step * 8 + micro * 4 + j), expected);
        EXPECT_EQ(seqs[static_cast<size_t>(j)], expected) << "step " << step << " micro " << micro << " seq " << j;
      }
    }
  }
}

TEST_F(MlmSourceTest, MicroBatchSplitDoesNotChangeTheStep) {
  const MlmBatchSource halves = source(4, 2), whole = source(8, 1);
  const Batch a = halves.batch(5, 0), b = halves.batch(5, 1), c = whole.batch(5, 0);
  std::vector<int32_t> tokens = a.tokens, labels = a.labels;
  tokens.insert(tokens.end(), b.tokens.begin(), b.tokens.end());
  labels.insert(labels.end(), b.labels.begin(), b.labels.end());
  EXPECT_EQ(tokens, c.tokens) << "inputs (after masking) differ";
  EXPECT_EQ(labels, c.labels);
}

// Data-parallel ranks read different micro-batches of a step: those share no sequence.
TEST_F(MlmSourceTest, AnyStepIsComputedDirectlyAndItsMicroBatchesAreDisjoint) {
  const Batch first = source(4, 2).batch(7, 1);
  const Batch again = source(4, 2).batch(7, 1);  // a fresh process resuming at step 7
  EXPECT_EQ(first.tokens, again.tokens);
  EXPECT_EQ(first.predict_index, again.predict_index);
  EXPECT_NE(source(4, 2).batch(8, 1).tokens, first.tokens);

  const auto micro0 = originals(source(4, 2).batch(0, 0));
  const auto micro1 = originals(source(4, 2).batch(0, 1));
  for (const auto& s : micro0)
    for (const auto& t : micro1) EXPECT_NE(s, t) << "micro-batches of a step share a sequence";
}

}  // namespace
}  // namespace masklm
