// Documents from a text file: plain text (documents separated by blank lines, or one per
// line) or JSONL with a text field, gzip/zstd-compressed or not (data/compressed_input.h).
// Reading streams in bounded memory and linear time whatever the line lengths. Bad input
// is repaired and counted, never a crash: invalid UTF-8 becomes U+FFFD, whitespace-only
// documents are skipped, documents longer than max_document_bytes are cut. What cannot be
// repaired (a missing file, a JSONL line that is not JSON) throws masklm::Error with
// file:line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace masklm {

class CompressedInput;

enum class TextFormat {
  TEXT,   // documents separated by blank (whitespace-only) lines; lines joined with '\n'
  LINES,  // one document per line
  JSONL,  // one JSON object per line; the document is its text field
};

TextFormat text_format_from_name(std::string_view name);  // "text", "lines", "jsonl"
std::string_view text_format_name(TextFormat format);

struct TextReaderOptions {
  TextFormat format = TextFormat::TEXT;
  std::string jsonl_field = "text";
  // A longer document is cut into pieces of at most this many bytes (at whitespace when
  // the last quarter has some, else at a character boundary), so one giant line cannot
  // exhaust memory or stall a tokenizer thread. JSONL lines are still read whole.
  size_t max_document_bytes = size_t{16} << 20;
};

// What reading did; the repairs are what `masklm prepare` reports.
struct TextReadStats {
  int64_t documents = 0;        // returned by next()
  int64_t text_bytes = 0;       // bytes of the returned documents
  int64_t empty_documents = 0;  // skipped: empty or whitespace only
  int64_t invalid_utf8 = 0;     // ill-formed sequences replaced by U+FFFD
  int64_t split_documents = 0;  // cuts of documents longer than max_document_bytes

  TextReadStats& operator+=(const TextReadStats& other);
};

class TextReader {
 public:
  explicit TextReader(const std::filesystem::path& path, TextReaderOptions options = {});
  ~TextReader();

  // The next non-empty document (valid UTF-8); false at the end of the file.
  bool next(std::string& document);

  const TextReadStats& stats() const { return stats_; }
  const std::filesystem::path& path() const { return path_; }
  // For progress: file bytes consumed so far and the file's size (both compressed).
  int64_t file_bytes_read() const;
  int64_t file_size() const;

 private:
  // The next line, or its next fragment when it is longer than `limit`; false at the end.
  bool next_line(std::string& line, size_t limit, bool& complete);
  void read_text_or_lines();  // fills ready_ from TEXT/LINES input
  void read_jsonl();          // fills ready_ from one JSONL line
  void take_document(std::string_view raw, bool final);  // cuts, repairs, queues

  std::filesystem::path path_;
  TextReaderOptions options_;
  std::unique_ptr<CompressedInput> input_;
  std::string buffer_;  // decompressed bytes [buffer_pos_, buffer_.size()) not yet consumed
  size_t buffer_pos_ = 0;
  bool input_done_ = false;
  bool line_continues_ = false;  // the last fragment was cut before its line ended
  int64_t line_number_ = 0;  // 1-based number of the line being read
  std::string line_, pending_;  // current line; raw bytes of the document being built
  std::deque<std::string> ready_;
  TextReadStats stats_;
};

}  // namespace masklm
