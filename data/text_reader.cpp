#include "data/text_reader.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "data/compressed_input.h"
#include "data/unicode.h"
#include "runtime/error.h"

namespace masklm {

namespace {

constexpr size_t kReadChunkBytes = size_t{1} << 20;

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool is_blank(std::string_view s) { return std::all_of(s.begin(), s.end(), is_ascii_space); }

int64_t count_replacement_chars(std::string_view s) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  int64_t n = 0;
  for (size_t pos = s.find(kReplacement); pos != std::string_view::npos; pos = s.find(kReplacement, pos + 3)) ++n;
  return n;
}

// `raw` as valid UTF-8, adding the number of repairs to `repairs`: each repair inserts one
// U+FFFD, so the repairs are the U+FFFDs the text gained.
std::string repaired_utf8(std::string_view raw, int64_t& repairs) {
  std::string text = unicode::to_valid_utf8(raw);
  if (text != raw) repairs += count_replacement_chars(text) - count_replacement_chars(raw);
  return text;
}

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Where to cut a document longer than `max` bytes: after the last whitespace in its last
// quarter, else at `max` moved back to a character boundary. ASCII whitespace bytes never
// occur inside a multi-byte character, so both cuts keep valid characters whole.
size_t cut_position(std::string_view text, size_t max) {
  for (size_t i = max; i > max - max / 4; --i)
    if (is_ascii_space(text[i - 1])) return i;
  size_t cut = max;
  for (int back = 0; back < 3 && cut > 1 && is_utf8_continuation(text[cut]); ++back) --cut;
  return cut;
}

}  // namespace

TextFormat text_format_from_name(std::string_view name) {
  if (name == "text") return TextFormat::TEXT;
  if (name == "lines") return TextFormat::LINES;
  if (name == "jsonl") return TextFormat::JSONL;
  MASKLM_FAIL("unknown text format '{}' (expected text, lines or jsonl)", name);
}

std::string_view text_format_name(TextFormat format) {
  switch (format) {
    case TextFormat::TEXT: return "text";
    case TextFormat::LINES: return "lines";
    case TextFormat::JSONL: return "jsonl";
  }
  return "?";
}

TextReadStats& TextReadStats::operator+=(const TextReadStats& other) {
  documents += other.documents;
  text_bytes += other.text_bytes;
  empty_documents += other.empty_documents;
  invalid_utf8 += other.invalid_utf8;
  split_documents += other.split_documents;
  return *this;
}

TextReader::TextReader(const std::filesystem::path& path, TextReaderOptions options)
    : path_(path), options_(std::move(options)), input_(CompressedInput::open(path)) {
  MASKLM_CHECK(options_.max_document_bytes >= 16, "max_document_bytes must be at least 16, got {}",
               options_.max_document_bytes);
  MASKLM_CHECK(options_.format != TextFormat::JSONL || !options_.jsonl_field.empty(),
               "the JSONL text field name must not be empty");
}

TextReader::~TextReader() = default;

int64_t TextReader::file_bytes_read() const { return input_->file_bytes_read(); }
int64_t TextReader::file_size() const { return input_->file_size(); }

bool TextReader::next(std::string& document) {
  if (ready_.empty()) {
    if (options_.format == TextFormat::JSONL)
      read_jsonl();
    else
      read_text_or_lines();
  }
  if (ready_.empty()) return false;
  document = std::move(ready_.front());
  ready_.pop_front();
  ++stats_.documents;
  stats_.text_bytes += static_cast<int64_t>(document.size());
  return true;
}

bool TextReader::next_line(std::string& line, size_t limit, bool& complete) {
  line.clear();
  bool any = false;
  for (;;) {
    if (buffer_pos_ == buffer_.size()) {
      if (!input_done_) {
        buffer_.resize(kReadChunkBytes);
        buffer_.resize(input_->read(buffer_.data(), buffer_.size()));
        buffer_pos_ = 0;
        input_done_ = buffer_.empty();
      }
      if (input_done_) {
        complete = true;
        if (any) ++line_number_;
        return any;
      }
    }
    any = true;
    const char* begin = buffer_.data() + buffer_pos_;
    const size_t available = buffer_.size() - buffer_pos_;
    const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', available));
    const size_t line_part = newline ? static_cast<size_t>(newline - begin) : available;
    const size_t take = std::min(line_part, limit - line.size());
    line.append(begin, take);
    buffer_pos_ += take;
    if (newline && take == line_part) {
      ++buffer_pos_;
      complete = true;
      ++line_number_;
      return true;
    }
    if (line.size() == limit) {
      complete = false;
      return true;
    }
  }
}

void TextReader::take_document(std::string_view raw, bool final) {
  const auto queue = [&](std::string_view piece) {
    std::string text = repaired_utf8(piece, stats_.invalid_utf8);
    if (is_blank(text))
      ++stats_.empty_documents;
    else
      ready_.push_back(std::move(text));
  };
  // `raw` is pending_ (the document so far): cut what is too long, keep the rest pending.
  size_t begin = 0;
  while (raw.size() - begin > options_.max_document_bytes) {
    const size_t cut = cut_position(raw.substr(begin), options_.max_document_bytes);
    queue(raw.substr(begin, cut));
    ++stats_.split_documents;
    begin += cut;
  }
  if (final) {
    queue(raw.substr(begin));
    pending_.clear();
  } else if (begin > 0) {
    pending_.erase(0, begin);
  }
}

void TextReader::read_text_or_lines() {
  // Lines are read in fragments of bounded size, so a giant line never sits in memory
  // whole: take_document() cuts the pending document as it grows.
  const size_t fragment_limit = std::min(options_.max_document_bytes, kReadChunkBytes);
  while (ready_.empty()) {
    bool complete = true;
    if (!next_line(line_, fragment_limit, complete)) {
      if (!pending_.empty()) take_document(pending_, true);
      return;
    }
    const bool whole_line = !line_continues_;
    if (complete && !line_.empty() && line_.back() == '\r') line_.pop_back();  // CRLF files
    if (options_.format == TextFormat::LINES) {
      pending_ += line_;
      take_document(pending_, complete);
    } else if (whole_line && complete && is_blank(line_)) {
      if (!pending_.empty()) take_document(pending_, true);
    } else {
      if (whole_line && !pending_.empty()) pending_ += '\n';
      pending_ += line_;
      take_document(pending_, false);
    }
    line_continues_ = !complete;
  }
}

void TextReader::read_jsonl() {
  using nlohmann::json;
  while (ready_.empty()) {
    bool complete = true;
    if (!next_line(line_, SIZE_MAX, complete)) return;
    if (is_blank(line_)) continue;
    const std::string repaired = repaired_utf8(line_, stats_.invalid_utf8);
    const std::string where = fmt::format("{}:{}", path_.string(), line_number_);
    json record;
    try {
      record = json::parse(repaired);
    } catch (const json::exception& e) {
      MASKLM_FAIL("{}: bad JSONL line: {}", where, e.what());
    }
    if (!record.is_object()) MASKLM_FAIL("{}: bad JSONL line: expected a JSON object, got {}", where, record.type_name());
    const auto field = record.find(options_.jsonl_field);
    if (field == record.end())
      MASKLM_FAIL("{}: bad JSONL line: no \"{}\" field (choose the field with --jsonl-field)", where,
                  options_.jsonl_field);
    if (!field->is_string())
      MASKLM_FAIL("{}: bad JSONL line: \"{}\" is {}, not a string", where, options_.jsonl_field, field->type_name());
    pending_ = field->get<std::string>();
    take_document(pending_, true);
  }
}

}  // namespace masklm
