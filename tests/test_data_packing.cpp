// Packing documents into fixed-length sequences, and the shuffled order of the sequences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "data/packed_dataset.h"
#include "data/sequence_order.h"
#include "data/shard_writer.h"
#include "data_test_support.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;
using Documents = std::vector<std::vector<int32_t>>;

constexpr int32_t kBegin = 98, kEnd = 97, kSeparator = 99;

class PackingTest : public testing::TempDirTest {
 protected:
  ShardReader shard(const std::string& name, const Documents& docs) {
    ShardWriter w(dir_ / name, 0, 100);
    for (const auto& d : docs) w.add_document(d);
    w.finish();
    return ShardReader(dir_ / name);
  }

  std::vector<std::vector<int32_t>> all_sequences(const PackedDataset& p) {
    std::vector<std::vector<int32_t>> out(static_cast<size_t>(p.num_sequences()));
    for (int64_t i = 0; i < p.num_sequences(); ++i) p.sequence(i, out[static_cast<size_t>(i)]);
    return out;
  }
};

TEST_F(PackingTest, PacksAcrossDocumentsAndShardsWithSeparators) {
  // Stream: 1 2 3 | 4 5 | 6 7 8 9 10 | (empty shard) | 11 | 12 13 14 15 16 17 18 (| = 99).
  std::vector<ShardReader> shards;
  shards.push_back(shard("a.shard", {{1, 2, 3}, {4, 5}}));
  shards.push_back(shard("b.shard", {{6, 7, 8, 9, 10}}));
  shards.push_back(shard("c.shard", {}));
  shards.push_back(shard("d.shard", {{11}, {12, 13, 14, 15, 16, 17, 18}}));
  const PackedDataset p(std::move(shards), 6, {kBegin, kEnd, kSeparator});
  // 18 tokens + 4 separators = 22 stream tokens, 4 per sequence: 5 sequences, 2 left over.
  const std::vector<std::vector<int32_t>> expected = {
      {98, 1, 2, 3, 99, 97},    {98, 4, 5, 99, 6, 97},     {98, 7, 8, 9, 10, 97},
      {98, 99, 11, 99, 12, 97}, {98, 13, 14, 15, 16, 97},
  };
  EXPECT_EQ(all_sequences(p), expected);
  std::vector<int32_t> seq;
  expect_error([&] { p.sequence(5, seq); }, {"packed sequence 5 out of range [0, 5)"});
}

TEST_F(PackingTest, LongDocumentsSpanSequencesAndEmptyDocumentsOnlyAddSeparators) {
  std::vector<int32_t> long_doc(25);
  std::iota(long_doc.begin(), long_doc.end(), 1);
  std::vector<ShardReader> shards;
  shards.push_back(shard("a.shard", {long_doc, {}, {50}}));
  const PackedDataset p(std::move(shards), 12, {kBegin, kEnd, kSeparator});
  // Stream: 1..25 | | 50: 28 tokens, 10 per sequence: 2 sequences.
  const std::vector<std::vector<int32_t>> expected = {
      {98, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 97},
      {98, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 97},
  };
  EXPECT_EQ(all_sequences(p), expected);

  std::vector<ShardReader> exact;
  exact.push_back(shard("b.shard", {{1, 2}, {3}}));  // 1 2 | 3: exactly one sequence of 4
  const PackedDataset q(std::move(exact), 6, {kBegin, kEnd, kSeparator});
  EXPECT_EQ(all_sequences(q), (std::vector<std::vector<int32_t>>{{98, 1, 2, 99, 3, 97}}));
}

TEST_F(PackingTest, SpecialTokensComeFromTheTokenizer) {
  SpecialTokens s;
  s.cls = 0;
  s.sep = 2;  // RoBERTa: <s> = 0, </s> = 2
  const PackingTokens t = PackingTokens::from(s);
  EXPECT_EQ(t.begin, 0);
  EXPECT_EQ(t.end, 2);
  EXPECT_EQ(t.separator, 2);
  s.cls = -1;
  expect_error([&] { PackingTokens::from(s); }, {"[CLS]/<s>"});
  expect_error([&] { PackedDataset(std::vector<ShardReader>{}, 2, t); }, {"at least 3 tokens"});
}

std::vector<int64_t> permutation(const SequenceOrder& order, int64_t n, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = order.permuted(epoch, i);
  return p;
}

TEST(SequenceOrder, EachEpochIsAPermutationThatDependsOnSeedAndEpoch) {
  for (int64_t n : {1, 2, 3, 5, 16, 17, 1000, 4097}) {
    const SequenceOrder order(n, 42);
    for (int64_t epoch : {0, 1, 7}) {
      std::vector<int64_t> p = permutation(order, n, epoch);
      std::vector<int64_t> sorted = p;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int64_t> identity(static_cast<size_t>(n));
      std::iota(identity.begin(), identity.end(), 0);
      EXPECT_EQ(sorted, identity) << "n=" << n << " epoch " << epoch << " is not a permutation";
      EXPECT_EQ(p, permutation(SequenceOrder(n, 42), n, epoch)) << "not deterministic";
      if (n >= 16) {
        EXPECT_NE(p, identity) << "n=" << n << " not shuffled";
        EXPECT_NE(p, permutation(order, n, epoch + 1)) << "n=" << n << " same order in the next epoch";
        EXPECT_NE(p, permutation(SequenceOrder(n, 43), n, epoch)) << "n=" << n << " ignores the seed";
      }
    }
  }
}

TEST(SequenceOrder, PositionsAreUniformOverSeeds) {
  // Where sequence 0 lands, over 4000 seeds, for n = 10: each of the 10 positions has
  // p = 0.1, so a count is 400 ± 19 (1 sd); 6 sd = ±114 bounds a false failure below 1e-8
  // per cell. A poor round function (too few rounds, a bias toward the identity) fails.
  constexpr int64_t n = 10, trials = 4000;
  std::vector<int> where(n);
  for (int64_t seed = 0; seed < trials; ++seed) {
    const SequenceOrder order(n, static_cast<uint64_t>(seed));
    for (int64_t i = 0; i < n; ++i)
      if (order.permuted(0, i) == 0) ++where[static_cast<size_t>(i)];
  }
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(where[static_cast<size_t>(i)], trials / n, 114) << "position " << i;
}

TEST(SequenceOrder, EpochsFollowEachOtherAndEachCoversEverySequence) {
  constexpr int64_t n = 103;
  const SequenceOrder order(n, 7);
  EXPECT_EQ(order.epoch_length(), n);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t s = order.at(epoch * n + i);
      EXPECT_EQ(s, order.permuted(epoch, i));
      EXPECT_TRUE(seen.insert(s).second) << "sequence " << s << " seen twice in epoch " << epoch;
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(n));
  }
  expect_error([] { SequenceOrder(0, 0); }, {"no packed sequences"});
}

TEST(SequenceOrder, ResumeIsDirectComputation) {
  // A run that stops after 37 sequences and a fresh process that resumes from the count
  // alone see the same continuation, across the epoch boundary.
  const SequenceOrder first(50, 3);
  std::vector<int64_t> uninterrupted;
  for (int64_t k = 0; k < 80; ++k) uninterrupted.push_back(first.at(k));
  const SequenceOrder resumed(50, 3);
  for (int64_t k = 37; k < 80; ++k) EXPECT_EQ(resumed.at(k), uninterrupted[static_cast<size_t>(k)]) << k;
  EXPECT_EQ(first.at(53), first.permuted(1, 3));  // epoch 1 begins after 50
}

}  // namespace
}  // namespace masklm
