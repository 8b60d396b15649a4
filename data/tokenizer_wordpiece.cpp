// BERT's family: BertNormalizer, BertPreTokenizer, the WordPiece model and decoder, with
// Hugging Face's semantics (tokenizers/src/normalizers/bert.rs, models/wordpiece).
#include <algorithm>
#include <string>
#include <vector>

#include "data/tokenizer_pipeline.h"
#include "data/unicode.h"
#include "runtime/error.h"

namespace masklm::tokenizer_detail {

namespace {

using nlohmann::json;

struct BertNormalizerOptions {
  bool enabled = false;
  bool clean_text = false, handle_chinese_chars = false, strip_accents = false, lowercase = false;
};

BertNormalizerOptions parse_normalizer(const json& normalizer) {
  BertNormalizerOptions options;
  const std::string type = json_type(normalizer);
  if (type == "null") return options;
  MASKLM_CHECK(type == "BertNormalizer",
               "tokenizer.json: normalizer '{}' is not supported with WordPiece (supported: "
               "BertNormalizer or none)",
               type);
  options.enabled = true;
  options.clean_text = normalizer.value("clean_text", true);
  options.handle_chinese_chars = normalizer.value("handle_chinese_chars", true);
  options.lowercase = normalizer.value("lowercase", true);
  // Hugging Face: strip_accents null means "strip when lowercasing".
  const json& strip = normalizer.contains("strip_accents") ? normalizer["strip_accents"] : json();
  options.strip_accents = strip.is_null() ? options.lowercase : strip.get<bool>();
  return options;
}

struct NormalizedChar {
  char32_t c;
  Offsets from;
};

// NFD puts combining marks in canonical order; after accent stripping only the few marks
// that are not Mn remain, so only those need sorting (stable, by combining class).
void reorder_surviving_marks(std::vector<NormalizedChar>& chars) {
  for (size_t i = 0; i < chars.size();) {
    if (unicode::surviving_combining_class(chars[i].c) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < chars.size() && unicode::surviving_combining_class(chars[end].c) != 0) ++end;
    // Only the characters move: Hugging Face's alignments stay in input order.
    std::u32string run;
    for (size_t k = i; k < end; ++k) run.push_back(chars[k].c);
    std::stable_sort(run.begin(), run.end(), [](char32_t a, char32_t b) {
      return unicode::surviving_combining_class(a) < unicode::surviving_combining_class(b);
    });
    for (size_t k = i; k < end; ++k) chars[k].c = run[k - i];
    i = end;
  }
}

std::string cleanup(std::string token) {
  static const std::pair<std::string_view, std::string_view> kReplacements[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kReplacements) {
    for (size_t pos = token.find(from); pos != std::string::npos;
         pos = token.find(from, pos + to.size()))
      token.replace(pos, from.size(), to);
  }
  return token;
}

class WordPiecePipeline final : public Pipeline {
 public:
  WordPiecePipeline(const json& config, Vocab& vocab) : vocab_(vocab) {
    normalizer_ = parse_normalizer(config.contains("normalizer") ? config["normalizer"] : json());
    const std::string pre = json_type(json_at(config, "pre_tokenizer", "tokenizer.json"));
    MASKLM_CHECK(pre == "BertPreTokenizer",
                 "tokenizer.json: pre_tokenizer '{}' is not supported with WordPiece (supported: "
                 "BertPreTokenizer)",
                 pre);
    const json& model = config["model"];
    prefix_ = model.value("continuing_subword_prefix", "##");
    max_chars_per_word_ = model.value("max_input_chars_per_word", size_t{100});
    for (const auto& [token, id] : json_at(model, "vocab", "model").items()) {
      vocab.add(token, id.get<int32_t>());
      max_token_bytes_ = std::max(max_token_bytes_, token.size());
    }
    const std::string unk = json_at(model, "unk_token", "model").get<std::string>();
    unk_id_ = vocab.find(unk);
    MASKLM_CHECK(unk_id_ >= 0, "tokenizer.json: WordPiece unk_token '{}' is not in the vocab", unk);
    parse_decoder(config.contains("decoder") ? config["decoder"] : json());
  }

  void split_words(std::string_view segment, size_t base, Normalized& out,
                   std::vector<Span>& words) const override {
    chars_.clear();
    bool has_surviving_marks = false;
    std::u32string accents, lower;
    for (size_t pos = 0, length = 0; pos < segment.size(); pos += length) {
      char32_t c = unicode::decode_utf8(segment, pos, length);
      const Offsets from{base + pos, base + pos + length};
      if (!normalizer_.enabled) {
        chars_.push_back({c, from});
        continue;
      }
      const uint8_t flags = unicode::flags(c);
      if (normalizer_.clean_text && (flags & unicode::FLAG_CLEAN_REMOVE)) continue;
      if (normalizer_.clean_text && (flags & unicode::FLAG_CLEAN_SPACE)) c = ' ';
      const bool cjk = normalizer_.handle_chinese_chars && (flags & unicode::FLAG_CJK);
      if (cjk) chars_.push_back({' ', from});
      if (!normalizer_.strip_accents || !unicode::strip_accents(c, accents)) accents.assign(1, c);
      for (char32_t a : accents) {
        if (!normalizer_.lowercase || !unicode::lowercase(a, lower)) lower.assign(1, a);
        for (char32_t l : lower) {
          chars_.push_back({l, from});
          has_surviving_marks |=
              normalizer_.strip_accents && unicode::surviving_combining_class(l) != 0;
        }
      }
      if (cjk) chars_.push_back({' ', from});
    }
    if (has_surviving_marks) reorder_surviving_marks(chars_);
    pre_tokenize(out, words);
  }

  // Greedy longest-match-first; a word with any piece missing becomes one unk token.
  void tokenize_word(std::string_view word, std::vector<TokenSpan>& out) const override {
    const size_t first = out.size();
    size_t char_count = 0;
    for (unsigned char byte : word) char_count += (byte & 0xC0) != 0x80;
    for (size_t start = 0; start < word.size() && char_count <= max_chars_per_word_;) {
      int32_t id = -1;
      size_t end = std::min(word.size(), start + max_token_bytes_);
      for (; end > start; --end) {
        if (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80)
          continue;  // not a character boundary
        piece_.assign(start > 0 ? prefix_ : "");
        piece_.append(word.substr(start, end - start));
        if ((id = vocab_.find(piece_)) >= 0) break;
      }
      if (id < 0) break;
      out.push_back({id, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      start = end;
    }
    if (out.size() == first || out.back().end != word.size()) {
      out.resize(first);
      out.push_back({unk_id_, 0, static_cast<uint32_t>(word.size())});
    }
  }

  std::string decode(const std::vector<std::string_view>& tokens) const override {
    std::string text;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string token(tokens[i]);
      if (!decoder_.enabled) {
        text += (i > 0 ? " " : "") + token;
        continue;
      }
      if (i > 0)
        token =
            token.starts_with(decoder_.prefix) ? token.substr(decoder_.prefix.size()) : " " + token;
      text += decoder_.cleanup ? cleanup(std::move(token)) : token;
    }
    return text;
  }

  WordBoundary word_boundary() const override { return WordBoundary::CONTINUATION_PREFIX; }
  bool has_normalizer() const override { return normalizer_.enabled; }
  int32_t unk_id() const override { return unk_id_; }

 private:
  // BertPreTokenizer: whitespace separates words and is dropped; punctuation is a word.
  void pre_tokenize(Normalized& out, std::vector<Span>& words) const {
    size_t word_begin = 0;
    auto close_word = [&] {
      if (out.text.size() > word_begin) words.push_back({word_begin, out.text.size()});
      word_begin = out.text.size();
    };
    for (const NormalizedChar& ch : chars_) {
      const uint8_t flags = unicode::flags(ch.c);
      if (flags & unicode::FLAG_WHITESPACE) {
        close_word();
        continue;
      }
      if (flags & unicode::FLAG_BERT_PUNCT) close_word();
      out.push(ch.c, ch.from);
      if (flags & unicode::FLAG_BERT_PUNCT) close_word();
    }
    close_word();
  }

  void parse_decoder(const json& decoder) {
    const std::string type = json_type(decoder);
    if (type == "null") return;
    MASKLM_CHECK(type == "WordPiece",
                 "tokenizer.json: decoder '{}' is not supported with WordPiece (supported: "
                 "WordPiece or none)",
                 type);
    decoder_ = {true, decoder.value("prefix", "##"), decoder.value("cleanup", true)};
  }

  struct DecoderOptions {
    bool enabled = false;
    std::string prefix;
    bool cleanup = false;
  };

  const Vocab& vocab_;
  BertNormalizerOptions normalizer_;
  DecoderOptions decoder_;
  std::string prefix_;
  size_t max_chars_per_word_ = 100;
  size_t max_token_bytes_ = 0;  // bounds the longest-match search
  int32_t unk_id_ = -1;
  // Scratch buffers, one set per thread (a pipeline is shared by encoding threads).
  static thread_local std::vector<NormalizedChar> chars_;
  static thread_local std::string piece_;
};

thread_local std::vector<NormalizedChar> WordPiecePipeline::chars_;
thread_local std::string WordPiecePipeline::piece_;

}  // namespace

std::unique_ptr<Pipeline> make_wordpiece_pipeline(const json& config, Vocab& vocab) {
  return std::make_unique<WordPiecePipeline>(config, vocab);
}

}  // namespace masklm::tokenizer_detail
