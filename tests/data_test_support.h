// Shared pieces of the data tests: a per-test temporary directory, file writers (plain,
// gzip and zstd through the libraries' own APIs) and WordTokenizer, a test-only tokenizer
// with a hashed word vocabulary and byte offsets, so the data pipeline is tested without
// real tokenizers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"
#include "runtime/error.h"

namespace masklm::testing {

namespace fs = std::filesystem;

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           fmt::format("masklm_{}_{}_{}", info->test_suite_name(), info->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_file(const std::string& name, std::string_view bytes) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  // One gzip member per element of `members`, back to back in one file.
  fs::path write_gzip(const std::string& name, const std::vector<std::string>& members) const {
    std::string bytes;
    for (const std::string& m : members) {
      z_stream z{};
      EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);  // +16: gzip wrapper
      std::string out(deflateBound(&z, m.size()) + 64, '\0');
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(m.data()));
      z.avail_in = static_cast<uInt>(m.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
      out.resize(z.total_out);
      deflateEnd(&z);
      bytes += out;
    }
    return write_file(name, bytes);
  }

  // One zstd frame per element of `frames`, back to back in one file.
  fs::path write_zstd(const std::string& name, const std::vector<std::string>& frames) const {
    std::string bytes;
    for (const std::string& f : frames) {
      std::string out(ZSTD_compressBound(f.size()), '\0');
      const size_t n = ZSTD_compress(out.data(), out.size(), f.data(), f.size(), 3);
      EXPECT_FALSE(ZSTD_isError(n));
      out.resize(n);
      bytes += out;
    }
    return write_file(name, bytes);
  }

  static std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

// Splits on ASCII whitespace; each word becomes an id in [5, vocab_size) by hashing.
// Ids 0..4 are [PAD], [UNK], [CLS], [SEP], [MASK].
class WordTokenizer final : public Tokenizer {
 public:
  static constexpr int32_t kPad = 0, kUnk = 1, kCls = 2, kSep = 3, kMask = 4, kFirstWord = 5;

  explicit WordTokenizer(int64_t vocab_size) : vocab_size_(vocab_size) {
    special_ = {kPad, kUnk, kMask, kCls, kSep};
  }

  static int32_t word_id(std::string_view word, int64_t vocab_size) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : word) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return static_cast<int32_t>(kFirstWord + h % static_cast<uint64_t>(vocab_size - kFirstWord));
  }

  Encoding encode(std::string_view text, bool add_special_tokens) const override {
    Encoding e;
    auto add = [&](int32_t id, size_t begin, size_t end) {
      e.ids.push_back(id);
      e.offsets.emplace_back(begin, end);
    };
    if (add_special_tokens) add(kCls, 0, 0);
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && is_space(text[i])) ++i;
      const size_t begin = i;
      while (i < text.size() && !is_space(text[i])) ++i;
      if (i > begin) add(word_id(text.substr(begin, i - begin), vocab_size_), begin, i);
    }
    if (add_special_tokens) add(kSep, 0, 0);
    return e;
  }
  std::string decode(const std::vector<int32_t>&, bool) const override { return {}; }
  int64_t vocab_size() const override { return vocab_size_; }
  std::string id_to_token(int32_t id) const override { return fmt::format("w{}", id); }
  int32_t token_to_id(std::string_view) const override { return -1; }
  const SpecialTokens& special_tokens() const override { return special_; }
  bool is_special(int32_t id) const override { return id < kFirstWord; }
  WordBoundary word_boundary() const override { return WordBoundary::CONTINUATION_PREFIX; }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

  int64_t vocab_size_;
  SpecialTokens special_;
};

}  // namespace masklm::testing
