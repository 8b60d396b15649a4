// Token shards: exact round trips at both token widths, atomic writes, and a clear error
// for every kind of damaged or mismatched shard.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "data/shard_reader.h"
#include "data/shard_writer.h"
#include "data_test_support.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;
using Documents = std::vector<std::vector<int32_t>>;

constexpr uint64_t kHash = 0x0123456789ABCDEFull;

class ShardTest : public testing::TempDirTest {
 protected:
  std::filesystem::path write_shard(const std::string& name, const Documents& docs, int64_t vocab_size) {
    const auto path = dir_ / name;
    ShardWriter w(path, kHash, vocab_size);
    for (const auto& d : docs) w.add_document(d);
    EXPECT_EQ(w.num_documents(), static_cast<int64_t>(docs.size()));
    w.finish();
    return path;
  }

  // Rewrites bytes [offset, offset + n) of a shard.
  void patch(const std::filesystem::path& path, size_t offset, const void* bytes, size_t n) {
    std::string data = read_bytes(path);
    ASSERT_LE(offset + n, data.size());
    std::memcpy(data.data() + offset, bytes, n);
    write_file(path.filename().string(), data);
  }

  static void expect_documents(const ShardReader& r, const Documents& docs) {
    ASSERT_EQ(r.num_documents(), static_cast<int64_t>(docs.size()));
    std::vector<uint64_t> offsets{0};
    for (size_t d = 0; d < docs.size(); ++d) {
      EXPECT_EQ(r.document(static_cast<int64_t>(d)), docs[d]) << "document " << d;
      offsets.push_back(offsets.back() + docs[d].size());
    }
    EXPECT_EQ(std::vector<uint64_t>(r.document_offsets().begin(), r.document_offsets().end()), offsets);
    EXPECT_EQ(r.num_tokens(), static_cast<int64_t>(offsets.back()));
  }
};

TEST_F(ShardTest, RoundTripsU16) {
  const Documents docs = {{0, 1, 2}, {999}, {}, {500, 7, 7, 7, 998, 0}};
  const ShardReader r(write_shard("a.shard", docs, 1000));
  EXPECT_EQ(r.header().token_bytes, 2u);
  EXPECT_EQ(r.vocab_size(), 1000);
  EXPECT_EQ(r.vocab_hash(), kHash);
  expect_documents(r, docs);
  EXPECT_EQ(std::filesystem::file_size(r.path()), 64u + 10 * 2 + 4 + 5 * 8) << "header, ids, padding, offsets";
}

TEST_F(ShardTest, RoundTripsU32) {
  Documents docs = {{65535, 65536, 69999}, {0}, {}};
  for (int32_t i = 0; i < 10000; ++i) docs[2].push_back(i * 7 % 70000);
  const ShardReader r(write_shard("a.shard", docs, 70000));
  EXPECT_EQ(r.header().token_bytes, 4u);
  expect_documents(r, docs);
}

TEST_F(ShardTest, TokenWidthFollowsVocabularySize) {
  EXPECT_EQ(shard_token_bytes(65536), 2u);  // ids 0..65535 fit in 16 bits
  EXPECT_EQ(shard_token_bytes(65537), 4u);
  expect_documents(ShardReader(write_shard("edge.shard", {{65535, 0}}, 65536)), {{65535, 0}});
}

TEST_F(ShardTest, EmptyShardRoundTrips) {
  const ShardReader r(write_shard("empty.shard", {}, 10));
  EXPECT_EQ(r.num_documents(), 0);
  EXPECT_EQ(r.num_tokens(), 0);
}

TEST_F(ShardTest, WritesAreAtomic) {
  const auto path = dir_ / "a.shard";
  {
    ShardWriter w(path, kHash, 100);
    w.add_document(std::vector<int32_t>{1, 2, 3});
    EXPECT_FALSE(std::filesystem::exists(path)) << "visible before finish()";
    EXPECT_TRUE(std::filesystem::exists(path.string() + ".tmp"));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp")) << "an abandoned writer leaves its temporary file";
}

TEST_F(ShardTest, OutOfVocabularyIdsAreRejectedWhenWriting) {
  ShardWriter w(dir_ / "a.shard", kHash, 100);
  expect_error([&] { w.add_document(std::vector<int32_t>{1, 100}); }, {"token id 100", "vocabulary of 100"});
  expect_error([&] { w.add_document(std::vector<int32_t>{-1}); }, {"token id -1"});
}

TEST_F(ShardTest, TruncatedShardsAreDetected) {
  const auto path = write_shard("a.shard", {{1, 2, 3}, {4, 5}}, 100);
  const std::string bytes = read_bytes(path);
  for (size_t keep : {size_t{0}, size_t{10}, size_t{63}}) {
    write_file("a.shard", bytes.substr(0, keep));
    expect_error([&] { ShardReader r(path); }, {path.string(), "truncated", "shorter than the 64-byte header"});
  }
  for (size_t cut : {size_t{1}, size_t{8}, bytes.size() - 65}) {
    write_file("a.shard", bytes.substr(0, bytes.size() - cut));
    expect_error([&] { ShardReader r(path); }, {path.string(), "truncated"});
  }
  write_file("a.shard", bytes + "x");
  expect_error([&] { ShardReader r(path); }, {path.string(), "trailing bytes"});
}

TEST_F(ShardTest, WrongMagicAndVersionAreDetected) {
  const auto path = write_shard("a.shard", {{1, 2}}, 100);
  const std::string good = read_bytes(path);
  patch(path, 0, "GGUF", 4);
  expect_error([&] { ShardReader r(path); }, {path.string(), "not a masklm token shard"});
  write_file("a.shard", good);
  const uint32_t version = kShardFormatVersion + 1;
  patch(path, offsetof(ShardHeader, version), &version, sizeof(version));
  expect_error([&] { ShardReader r(path); }, {path.string(), fmt::format("format version {}", version),
                                              fmt::format("reads version {}", kShardFormatVersion), "masklm prepare"});
}

TEST_F(ShardTest, WrongVocabularyHashIsAnErrorNamingBothHashes) {
  const ShardReader r(write_shard("a.shard", {{1, 2}}, 100));
  EXPECT_NO_THROW(r.require_vocab(kHash, "'tok.json'"));
  expect_error([&] { r.require_vocab(kHash + 1, "'tok.json'"); },
               {r.path().string(), "different vocabulary", "0123456789abcdef", "0123456789abcdf0", "'tok.json'"});
}

TEST_F(ShardTest, CorruptContentsAreDetected) {
  const auto path = write_shard("a.shard", {{1, 2, 3}, {4, 5}}, 100);
  const std::string good = read_bytes(path);
  const size_t offsets_begin = 64 + 5 * 2 + 6;  // ids, then padding to 8 bytes

  const uint64_t six = 6;  // offsets 0, 3, 5 become 0, 6, 5
  patch(path, offsets_begin + 8, &six, 8);
  expect_error([&] { ShardReader r(path); }, {path.string(), "decrease at document 1"});
  write_file("a.shard", good);
  const uint64_t four = 4;  // offsets 0, 3, 5 become 0, 3, 4: the last must be the token count
  patch(path, offsets_begin + 16, &four, 8);
  expect_error([&] { ShardReader r(path); }, {path.string(), "offsets run from 0 to 4, expected 0 to 5"});

  write_file("a.shard", good);
  const uint16_t big_id = 100;
  patch(path, 64 + 2 * 2, &big_id, 2);
  expect_error([&] { ShardReader r(path); }, {path.string(), "token id 100 outside the vocabulary of 100"});

  write_file("a.shard", good);
  const uint32_t four_bytes = 4;
  patch(path, offsetof(ShardHeader, token_bytes), &four_bytes, 4);
  expect_error([&] { ShardReader r(path); }, {path.string(), "4-byte token ids for a vocabulary of 100"});

  write_file("a.shard", good);
  const uint64_t huge = uint64_t{1} << 62;
  patch(path, offsetof(ShardHeader, num_tokens), &huge, 8);
  expect_error([&] { ShardReader r(path); }, {path.string(), "truncated"});
}

TEST_F(ShardTest, MissingShardIsAClearError) {
  const auto path = dir_ / "missing.shard";
  expect_error([&] { ShardReader r(path); }, {"cannot open", path.string()});
}

}  // namespace
}  // namespace masklm
