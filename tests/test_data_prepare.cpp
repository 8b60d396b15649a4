// `masklm prepare` as a library call: text → shards → manifest → packed sequences, with a
// test-only word tokenizer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/packed_dataset.h"
#include "data/prepare.h"
#include "data/shard_reader.h"
#include "data_test_support.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;
using testing::WordTokenizer;

class PrepareTest : public testing::TempDirTest {
 protected:
  // 40 documents: 26 in a plain-text file (ending in a run of blank lines, one document
  // with an invalid byte), 14 in a zstd-compressed one.
  void SetUp() override {
    TempDirTest::SetUp();
    std::string a, b;
    for (int i = 0; i < 25; ++i) {
      a += fmt::format("doc {} says hello\nworld {}\n\n", i, i * i);
      docs_.push_back(fmt::format("doc {} says hello\nworld {}", i, i * i));
    }
    a += "caf\xE9 au lait\n\n\n\n";
    docs_.push_back("caf\xEF\xBF\xBD au lait");
    for (int i = 0; i < 14; ++i) {
      b += fmt::format("second file {}\n\n", i);
      docs_.push_back(fmt::format("second file {}", i));
    }
    options_.inputs = {write_file("a.txt", a), write_zstd("b.txt.zst", {b})};
    options_.out_dir = dir_ / "out";
    options_.tokenizer_path = "word-tokenizer.json";
    options_.val_fraction = 0.25;
  }

  std::vector<int32_t> encode(const std::string& text) const { return tokenizer_.encode(text, false).ids; }

  PrepareOptions options_;
  std::vector<std::string> docs_;  // 40, as read
  WordTokenizer tokenizer_{1000};
};

TEST_F(PrepareTest, WritesShardsManifestAndAnExactValidationSplit) {
  options_.shard_tokens = 50;  // several train shards
  int progress_calls = 0;
  PrepareProgress last;
  const DatasetManifest m = prepare_dataset(options_, tokenizer_, [&](const PrepareProgress& p) {
    ++progress_calls;
    last = p;
  });
  EXPECT_GE(progress_calls, 2);
  EXPECT_EQ(last.documents, 40);
  EXPECT_EQ(last.file_bytes_read, last.file_bytes_total);

  EXPECT_EQ(m.input.documents, 40);
  EXPECT_EQ(m.input.invalid_utf8, 1);
  EXPECT_EQ(m.vocab_hash, tokenizer_.vocab_hash());
  EXPECT_EQ(m.vocab_size, 1000);
  EXPECT_EQ(m.val.documents, 10) << "floor(40 · 0.25)";
  EXPECT_EQ(m.train.documents, 30);
  EXPECT_GT(m.train.shards.size(), 2u);
  EXPECT_EQ(m.val.shards.size(), 1u);

  // Documents 3, 7, 11, ... (every 4th) are validation; all in input order.
  std::vector<std::vector<int32_t>> train, val;
  for (size_t i = 0; i < docs_.size(); ++i) (i % 4 == 3 ? val : train).push_back(encode(docs_[i]));
  const auto read_split = [&](const SplitManifest& s) {
    std::vector<std::vector<int32_t>> out;
    int64_t tokens = 0;
    for (const ShardEntry& e : s.shards) {
      const ShardReader r(options_.out_dir / e.file);
      EXPECT_EQ(r.num_documents(), e.documents);
      r.require_vocab(tokenizer_.vocab_hash(), "test");
      for (int64_t d = 0; d < r.num_documents(); ++d) out.push_back(r.document(d));
      tokens += r.num_tokens();
    }
    EXPECT_EQ(tokens, s.tokens);
    return out;
  };
  EXPECT_EQ(read_split(m.train), train);
  EXPECT_EQ(read_split(m.val), val);

  const DatasetManifest reread = DatasetManifest::read(options_.out_dir);
  EXPECT_EQ(reread.vocab_hash, m.vocab_hash);
  EXPECT_EQ(reread.train.tokens, m.train.tokens);
  EXPECT_EQ(reread.val.shards.size(), m.val.shards.size());
  EXPECT_EQ(reread.input.invalid_utf8, 1);
  EXPECT_EQ(reread.tokenizer, std::filesystem::absolute("word-tokenizer.json").string());
}

TEST_F(PrepareTest, OutputDoesNotDependOnTheThreadCount) {
  options_.threads = 1;
  const DatasetManifest one = prepare_dataset(options_, tokenizer_);
  const std::string train1 = read_bytes(options_.out_dir / one.train.shards[0].file);
  const std::string val1 = read_bytes(options_.out_dir / one.val.shards[0].file);
  options_.threads = 3;
  const DatasetManifest three = prepare_dataset(options_, tokenizer_);
  EXPECT_EQ(read_bytes(options_.out_dir / three.train.shards[0].file), train1);
  EXPECT_EQ(read_bytes(options_.out_dir / three.val.shards[0].file), val1);
}

TEST_F(PrepareTest, RerunsReplaceShardsOfEarlierRuns) {
  options_.shard_tokens = 20;
  const DatasetManifest many = prepare_dataset(options_, tokenizer_);
  ASSERT_GT(many.train.shards.size(), 3u);
  options_.shard_tokens = 1 << 20;
  prepare_dataset(options_, tokenizer_);
  EXPECT_TRUE(std::filesystem::exists(options_.out_dir / "train-00000.shard"));
  EXPECT_FALSE(std::filesystem::exists(options_.out_dir / "train-00001.shard"));
}

TEST_F(PrepareTest, PackedDatasetOpensTheSplitAndChecksTheVocabulary) {
  prepare_dataset(options_, tokenizer_);
  const PackedDataset p = PackedDataset::open(options_.out_dir, "train", tokenizer_, 8);
  std::vector<int32_t> expected_stream;
  for (size_t i = 0; i < docs_.size(); ++i) {
    if (i % 4 == 3) continue;
    if (!expected_stream.empty()) expected_stream.push_back(WordTokenizer::kSep);
    for (int32_t id : encode(docs_[i])) expected_stream.push_back(id);
  }
  ASSERT_EQ(p.num_sequences(), static_cast<int64_t>(expected_stream.size()) / 6);
  std::vector<int32_t> seq;
  p.sequence(2, seq);
  std::vector<int32_t> expected = {WordTokenizer::kCls};
  expected.insert(expected.end(), expected_stream.begin() + 12, expected_stream.begin() + 18);
  expected.push_back(WordTokenizer::kSep);
  EXPECT_EQ(seq, expected);

  const WordTokenizer other(2000);
  expect_error([&] { PackedDataset::open(options_.out_dir, "train", other, 8); },
               {"train-00000.shard", "different vocabulary"});
  expect_error([&] { PackedDataset::open(options_.out_dir, "test", tokenizer_, 8); }, {"unknown split 'test'"});
  expect_error([&] { PackedDataset::open(dir_, "train", tokenizer_, 8); }, {"manifest.json", "masklm prepare"});
}

TEST_F(PrepareTest, BadInputsFailBeforeAnyWork) {
  options_.inputs.push_back(dir_ / "missing.txt");
  expect_error([&] { prepare_dataset(options_, tokenizer_); }, {"cannot open input", "missing.txt"});
  EXPECT_FALSE(std::filesystem::exists(options_.out_dir));

  options_.inputs = {write_file("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": oops}\n")};
  options_.text.format = TextFormat::JSONL;
  expect_error([&] { prepare_dataset(options_, tokenizer_); }, {"bad.jsonl:2", "bad JSONL line"});

  options_.inputs = {write_file("empty.txt", "\n\n   \n")};
  options_.text.format = TextFormat::TEXT;
  expect_error([&] { prepare_dataset(options_, tokenizer_); }, {"no documents with tokens"});
}

}  // namespace
}  // namespace masklm
