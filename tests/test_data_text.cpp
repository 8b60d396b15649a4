// Reading documents: the three formats, compression, and every kind of bad input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/text_reader.h"
#include "data_test_support.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;

struct ReadResult {
  std::vector<std::string> documents;
  TextReadStats stats;
};

ReadResult read_all(const std::filesystem::path& path, TextReaderOptions options = {}) {
  TextReader reader(path, std::move(options));
  ReadResult r;
  for (std::string doc; reader.next(doc);) r.documents.push_back(doc);
  std::string after_end;
  EXPECT_FALSE(reader.next(after_end)) << "next() after the end must stay false";
  r.stats = reader.stats();
  return r;
}

TextReaderOptions with_format(TextFormat format) {
  TextReaderOptions o;
  o.format = format;
  return o;
}

class TextReaderTest : public testing::TempDirTest {};

TEST_F(TextReaderTest, BlankLinesSeparateDocuments) {
  const auto path = write_file("a.txt", "\n\nfirst line\nsecond line\n\n \t \r\n\n\nthird\r\nfourth\r\n\r\nlast");
  const ReadResult r = read_all(path);
  EXPECT_EQ(r.documents, (std::vector<std::string>{"first line\nsecond line", "third\nfourth", "last"}));
  EXPECT_EQ(r.stats.documents, 3);
  EXPECT_EQ(r.stats.empty_documents, 0) << "runs of blank lines are separators, not empty documents";
  EXPECT_EQ(r.stats.invalid_utf8, 0);
  EXPECT_EQ(r.stats.text_bytes, 22 + 12 + 4);
}

TEST_F(TextReaderTest, OneDocumentPerLineSkipsAndCountsEmptyLines) {
  const auto path = write_file("a.txt", "one\n\ntwo words\n   \t\nthree\r\n");
  const ReadResult r = read_all(path, with_format(TextFormat::LINES));
  EXPECT_EQ(r.documents, (std::vector<std::string>{"one", "two words", "three"}));
  EXPECT_EQ(r.stats.empty_documents, 2);
}

TEST_F(TextReaderTest, JsonlTakesTheConfiguredField) {
  const auto path = write_file("a.jsonl",
                               "{\"text\": \"hello \\u00e9\", \"id\": 1}\n"
                               "\n"
                               "{\"text\": \"   \"}\n"
                               "{\"text\": \"line\\nbreak\"}\n");
  const ReadResult r = read_all(path, with_format(TextFormat::JSONL));
  EXPECT_EQ(r.documents, (std::vector<std::string>{"hello \xC3\xA9", "line\nbreak"}));
  EXPECT_EQ(r.stats.empty_documents, 1);

  const auto body = write_file("b.jsonl", "{\"text\": \"not this\", \"body\": \"this\"}\n");
  TextReaderOptions o = with_format(TextFormat::JSONL);
  o.jsonl_field = "body";
  EXPECT_EQ(read_all(body, o).documents, std::vector<std::string>{"this"});
}

TEST_F(TextReaderTest, InvalidUtf8IsReplacedAndCounted) {
  // A stray Latin-1 byte, a truncated 3-byte character, a surrogate (ED A0 80: 3 maximal
  // subparts of one byte each, as Python's errors="replace"), an overlong '/' (C0 AF: 2), and
  // a valid U+FFFD that must not count.
  const std::string bad = "caf\xE9 \xE2\x82 x\xED\xA0\x80y \xC0\xAF ok \xEF\xBF\xBD";
  const std::string fffd = "\xEF\xBF\xBD";
  const std::string expected =
      "caf" + fffd + " " + fffd + " x" + fffd + fffd + fffd + "y " + fffd + fffd + " ok " + fffd;
  const ReadResult r = read_all(write_file("a.txt", bad + "\n"));
  ASSERT_EQ(r.documents.size(), 1u);
  EXPECT_EQ(r.documents[0], expected);
  EXPECT_EQ(r.stats.invalid_utf8, 7);

  // In JSONL the line is repaired before parsing, so bad bytes inside a string still parse.
  const ReadResult j = read_all(write_file("a.jsonl", "{\"text\": \"caf\xE9!\"}\n"), with_format(TextFormat::JSONL));
  EXPECT_EQ(j.documents, std::vector<std::string>{"caf" + fffd + "!"});
  EXPECT_EQ(j.stats.invalid_utf8, 1);
}

TEST_F(TextReaderTest, GiantLinesAreCutAtWhitespaceAndKeepEveryByte) {
  std::string line;
  for (int i = 0; line.size() < 5'000'000; ++i) line += fmt::format("word{} ", i);
  line.pop_back();
  TextReaderOptions o = with_format(TextFormat::LINES);
  o.max_document_bytes = 1 << 20;
  const ReadResult r = read_all(write_file("giant.txt", "short\n" + line + "\nafter\n"), o);
  ASSERT_GE(r.documents.size(), 7u);
  EXPECT_EQ(r.documents.front(), "short");
  EXPECT_EQ(r.documents.back(), "after");
  std::string joined;
  for (size_t i = 1; i + 1 < r.documents.size(); ++i) {
    EXPECT_LE(r.documents[i].size(), o.max_document_bytes);
    EXPECT_GE(r.documents[i].size(), o.max_document_bytes * 3 / 4) << "cut too early, piece " << i;
    if (i + 2 < r.documents.size()) {
      EXPECT_EQ(r.documents[i].back(), ' ') << "not cut at whitespace, piece " << i;
    }
    joined += r.documents[i];
  }
  EXPECT_EQ(joined, line);
  EXPECT_EQ(r.stats.split_documents, static_cast<int64_t>(r.documents.size()) - 3);
}

TEST_F(TextReaderTest, GiantLinesWithoutSpacesAreCutBetweenCharacters) {
  std::string line;
  while (line.size() < 3'000'001) line += "\xC3\xA9\xE2\x82\xAC";  // é€, no whitespace anywhere
  TextReaderOptions o;  // blank-line-separated text: the line is one document, cut in pieces
  o.max_document_bytes = 100'000;
  const ReadResult r = read_all(write_file("giant.txt", line), o);
  std::string joined;
  for (const std::string& d : r.documents) joined += d;
  EXPECT_EQ(joined, line);
  EXPECT_EQ(r.stats.invalid_utf8, 0) << "a cut split a character";
  EXPECT_GT(r.stats.split_documents, 25);
}

TEST_F(TextReaderTest, GiantJsonlLineIsReadWhole) {
  const std::string text(3'000'000, 'x');
  const ReadResult r =
      read_all(write_file("a.jsonl", "{\"text\": \"" + text + "\"}\n{\"text\": \"y\"}"), with_format(TextFormat::JSONL));
  ASSERT_EQ(r.documents.size(), 2u);
  EXPECT_EQ(r.documents[0], text);
  EXPECT_EQ(r.documents[1], "y");
}

TEST_F(TextReaderTest, GzipAndZstdAreDecompressedTransparently) {
  const std::string part1 = "alpha beta\n\ngamma\n", part2 = "\ndelta\n";
  const std::vector<std::string> expected = {"alpha beta", "gamma", "delta"};
  // Several gzip members or zstd frames back to back, as `cat a.gz b.gz` makes; the names
  // do not matter, the magic numbers do.
  EXPECT_EQ(read_all(write_gzip("corpus.gz", {part1, part2})).documents, expected);
  EXPECT_EQ(read_all(write_zstd("corpus.zst", {part1, part2})).documents, expected);
  EXPECT_EQ(read_all(write_zstd("misnamed.txt", {part1 + part2})).documents, expected);
  EXPECT_EQ(read_all(write_file("plain.gz", part1 + part2)).documents, expected);

  std::string big;
  for (int i = 0; big.size() < 5'000'000; ++i) big += fmt::format("line {}\n\n", i);
  const ReadResult g = read_all(write_gzip("big.gz", {big}));
  const ReadResult z = read_all(write_zstd("big.zst", {big}));
  EXPECT_EQ(g.documents, z.documents);
  ASSERT_FALSE(g.documents.empty());
  EXPECT_EQ(g.documents.back(), fmt::format("line {}", g.documents.size() - 1));
}

TEST_F(TextReaderTest, TruncatedOrCorruptCompressedInputIsAnError) {
  std::string text;
  for (int i = 0; i < 20'000; ++i) text += fmt::format("{} ", i * 7919 % 10007);
  for (const auto& [name, kind] : {std::pair{"t.gz", "gzip"}, std::pair{"t.zst", "zstd"}}) {
    const auto path = std::string(kind) == "gzip" ? write_gzip(name, {text}) : write_zstd(name, {text});
    const std::string bytes = read_bytes(path);
    write_file(name, bytes.substr(0, bytes.size() / 2));
    expect_error([&] { read_all(path); }, {path.string(), "truncated", kind});
    std::string corrupt = bytes;
    for (size_t i = 4; i < 40 && i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5A);
    write_file(name, corrupt);
    expect_error([&] { read_all(path); }, {path.string(), kind});
  }
}

TEST_F(TextReaderTest, MissingFilesAndDirectoriesAreClearErrors) {
  const auto missing = dir_ / "nope.txt";
  expect_error([&] { TextReader r(missing); }, {"cannot open input", missing.string(), "No such file"});
  expect_error([&] { TextReader r(dir_); }, {dir_.string(), "is a directory"});
}

TEST_F(TextReaderTest, BadJsonlLinesNameFileAndLine) {
  const TextReaderOptions o = with_format(TextFormat::JSONL);
  const auto not_json = write_file("a.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": \"unterminated}\n");
  expect_error([&] { read_all(not_json, o); }, {not_json.string() + ":3", "bad JSONL line"});
  const auto not_object = write_file("b.jsonl", "[1, 2]\n");
  expect_error([&] { read_all(not_object, o); }, {"b.jsonl:1", "expected a JSON object, got array"});
  const auto no_field = write_file("c.jsonl", "{\"text\": \"ok\"}\n{\"content\": \"x\"}\n");
  expect_error([&] { read_all(no_field, o); }, {"c.jsonl:2", "no \"text\" field"});
  const auto number = write_file("d.jsonl", "{\"text\": 3}\n");
  expect_error([&] { read_all(number, o); }, {"d.jsonl:1", "\"text\" is number, not a string"});
}

TEST(TextFormat, NamesRoundTripAndUnknownNamesAreErrors) {
  for (TextFormat f : {TextFormat::TEXT, TextFormat::LINES, TextFormat::JSONL})
    EXPECT_EQ(text_format_from_name(text_format_name(f)), f);
  expect_error([] { text_format_from_name("csv"); }, {"unknown text format 'csv'", "text, lines or jsonl"});
}

}  // namespace
}  // namespace masklm
