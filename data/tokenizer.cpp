// Loading a tokenizer.json and the steps around the model that every family shares: added
// tokens, word ids, the post-processor and decoding (the families live in
// data/tokenizer_wordpiece.cpp and data/tokenizer_bpe.cpp).
#include "data/tokenizer.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <fstream>

#include "data/tokenizer_pipeline.h"
#include "data/unicode.h"
#include "runtime/error.h"
#include "runtime/threads.h"

namespace masklm {

using nlohmann::json;
using tokenizer_detail::json_at;
using tokenizer_detail::json_type;

namespace tokenizer_detail {

void Vocab::add(std::string token, int32_t id) {
  MASKLM_CHECK(id >= 0, "tokenizer.json: token '{}' has a negative id {}", token, id);
  if (static_cast<size_t>(id) >= tokens.size()) tokens.resize(id + 1);
  tokens[id] = token;
  ids.emplace(std::move(token), id);
}

void Normalized::push(char32_t c, Offsets from) {
  const size_t before = text.size();
  unicode::append_utf8(text, c);
  offsets.insert(offsets.end(), text.size() - before, from);
}

const json& json_at(const json& object, std::string_view key, std::string_view where) {
  const auto it = object.find(key);
  MASKLM_CHECK(it != object.end(), "tokenizer.json: {} has no '{}'", where, key);
  return *it;
}

void json_expect(const json& object, std::string_view key, const json& expected,
                 std::string_view where) {
  const auto it = object.find(key);
  MASKLM_CHECK(it == object.end() || it->is_null() || *it == expected,
               "tokenizer.json: {} setting '{}' = {} is not supported (only {})", where, key,
               it == object.end() ? "" : it->dump(), expected.dump());
}

std::string json_type(const json& component) {
  if (component.is_null()) return "null";
  MASKLM_CHECK(component.is_object() && component.contains("type"),
               "tokenizer.json: a component without a 'type': {}", component.dump());
  return component["type"].get<std::string>();
}

}  // namespace tokenizer_detail

namespace {

using tokenizer_detail::Normalized;
using tokenizer_detail::Offsets;
using tokenizer_detail::Pipeline;
using tokenizer_detail::Span;
using tokenizer_detail::TokenSpan;
using tokenizer_detail::Vocab;

struct AddedToken {
  std::string content;
  int32_t id;
  bool lstrip, rstrip, special;
};

// A piece of the input: an added token (id >= 0) or text for the pipeline (id -1). The
// whitespace an added token strips belongs to no segment.
struct Segment {
  size_t begin, end;
  int32_t id;
};

size_t whitespace_before(std::string_view text, size_t pos, size_t floor) {
  while (pos > floor) {
    size_t start = pos - 1, length = 0;
    while (start > floor && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (!unicode::has(unicode::decode_utf8(text, start, length), unicode::FLAG_WHITESPACE)) break;
    pos = start;
  }
  return pos;
}

size_t whitespace_after(std::string_view text, size_t pos, size_t ceiling) {
  for (size_t length = 0; pos < ceiling; pos += length)
    if (!unicode::has(unicode::decode_utf8(text, pos, length), unicode::FLAG_WHITESPACE)) break;
  return pos;
}

// Splits text[begin, end) at the leftmost-longest matches of `tokens`, as Hugging Face's
// AddedVocabulary does (lstrip/rstrip swallow the whitespace beside a match).
void split_added_tokens(std::string_view text, size_t begin, size_t end,
                        const std::vector<AddedToken>& tokens, std::vector<Segment>& out) {
  size_t start_offset = begin;
  for (size_t pos = begin; pos < end;) {
    const AddedToken* best = nullptr;
    for (const AddedToken& token : tokens) {
      const size_t size = token.content.size();
      if (size <= end - pos && text.compare(pos, size, token.content) == 0 &&
          (!best || size > best->content.size()))
        best = &token;
    }
    if (!best) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + best->content.size();
    if (best->lstrip) start = whitespace_before(text, start, start_offset);
    if (best->rstrip) stop = whitespace_after(text, stop, end);
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({pos, pos + best->content.size(), best->id});  // offsets leave out the strip
    start_offset = pos = stop;
  }
  if (start_offset < end) out.push_back({start_offset, end, -1});
}

// The post-processor, reduced to what a single sequence needs.
struct PostProcessor {
  std::vector<int32_t> prefix, suffix;  // special tokens around the sequence
  bool trim_offsets = false;            // RobertaProcessing/ByteLevel: offsets skip spaces
  bool add_prefix_space = false;
};

int32_t special_id(const json& pair, const Vocab& vocab, std::string_view where) {
  MASKLM_CHECK(pair.is_array() && pair.size() == 2, "tokenizer.json: {} must be [token, id]",
               where);
  const int32_t id = pair[1].get<int32_t>();
  MASKLM_CHECK(vocab.find(pair[0].get<std::string>()) == id,
               "tokenizer.json: {} token {} does not have id {}", where, pair[0].dump(), id);
  return id;
}

PostProcessor parse_post_processor(const json& post, const Vocab& vocab) {
  PostProcessor p;
  const std::string type = json_type(post);
  if (type == "null") return p;
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    p.prefix = {special_id(json_at(post, "cls", type), vocab, type + " cls")};
    p.suffix = {special_id(json_at(post, "sep", type), vocab, type + " sep")};
    if (type == "RobertaProcessing") {
      p.trim_offsets = post.value("trim_offsets", true);
      p.add_prefix_space = post.value("add_prefix_space", true);
    }
    return p;
  }
  if (type == "ByteLevel") {
    p.trim_offsets = post.value("trim_offsets", true);
    p.add_prefix_space = post.value("add_prefix_space", true);
    return p;
  }
  MASKLM_CHECK(type == "TemplateProcessing",
               "tokenizer.json: post_processor '{}' is not supported (supported: BertProcessing, "
               "RobertaProcessing, TemplateProcessing, ByteLevel or none)",
               type);
  bool seen_sequence = false;
  for (const json& piece : json_at(post, "single", "TemplateProcessing")) {
    if (piece.contains("Sequence")) {
      MASKLM_CHECK(piece["Sequence"]["id"] == "A",
                   "tokenizer.json: TemplateProcessing single template uses sequence {}",
                   piece["Sequence"]["id"].dump());
      seen_sequence = true;
      continue;
    }
    const auto name = json_at(piece, "SpecialToken", "TemplateProcessing")["id"].get<std::string>();
    const json& special = json_at(json_at(post, "special_tokens", "TemplateProcessing"), name,
                                  "TemplateProcessing special_tokens");
    for (const json& id : json_at(special, "ids", "TemplateProcessing special token"))
      (seen_sequence ? p.suffix : p.prefix).push_back(id.get<int32_t>());
  }
  MASKLM_CHECK(seen_sequence, "tokenizer.json: TemplateProcessing single template has no $A");
  return p;
}

// Spaces a token starts and ends with (the byte-level "Ġ" or Unicode whitespace).
std::pair<uint16_t, uint16_t> count_edge_spaces(std::string_view token) {
  std::u32string chars;
  for (size_t pos = 0, length = 0; pos < token.size(); pos += length)
    chars.push_back(unicode::decode_utf8(token, pos, length));
  auto is_space = [](char32_t c) {
    return c == 0x120 || unicode::has(c, unicode::FLAG_WHITESPACE);
  };
  const auto leading = std::find_if_not(chars.begin(), chars.end(), is_space) - chars.begin();
  const auto trailing = std::find_if_not(chars.rbegin(), chars.rend(), is_space) - chars.rbegin();
  return {static_cast<uint16_t>(leading), static_cast<uint16_t>(trailing)};
}

// RobertaProcessing's process_offsets: offsets leave out the spaces a token starts or ends
// with, except the one space add_prefix_space put before the first word.
void trim_offsets(Encoding& e, const std::vector<std::pair<uint16_t, uint16_t>>& edge_spaces,
                  bool add_prefix_space) {
  for (size_t i = 0; i < e.ids.size(); ++i) {
    const auto [leading, trailing] = edge_spaces[e.ids[i]];
    auto& [begin, end] = e.offsets[i];
    if (leading > 0) {
      const bool is_first = i == 0 || begin == 0;
      if (!(is_first && add_prefix_space && leading == 1)) begin = std::min(begin + leading, end);
    }
    if (trailing > 0 && end >= trailing) end = std::max<size_t>(end - trailing, begin);
  }
}

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(const json& config) {
    for (const char* key : {"truncation", "padding"}) {
      MASKLM_CHECK(!config.contains(key) || config[key].is_null(),
                   "tokenizer.json: '{}' is set; masklm does not truncate or pad inside the "
                   "tokenizer (set it to null)",
                   key);
    }
    const json& model = json_at(config, "model", "tokenizer.json");
    const std::string type = json_type(model);
    if (type == "WordPiece") {
      pipeline_ = tokenizer_detail::make_wordpiece_pipeline(config, vocab_);
    } else if (type == "BPE") {
      pipeline_ = tokenizer_detail::make_byte_level_bpe_pipeline(config, vocab_);
    } else {
      MASKLM_FAIL("tokenizer.json: model '{}' is not supported (supported: WordPiece, BPE)", type);
    }
    if (config.contains("added_tokens")) parse_added_tokens(config["added_tokens"]);
    post_ = parse_post_processor(config.value("post_processor", json()), vocab_);
    find_special_tokens();
    if (post_.trim_offsets)
      for (const std::string& token : vocab_.tokens)
        edge_spaces_.push_back(count_edge_spaces(token));
  }

  Encoding encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<Segment> raw, segments;
    split_added_tokens(text, 0, text.size(), raw_added_, raw);
    for (const Segment& s : raw) {
      if (s.id >= 0)
        segments.push_back(s);
      else
        split_added_tokens(text, s.begin, s.end, normalized_added_, segments);
    }
    Encoding e;
    int32_t word = 0;
    Normalized normalized;
    std::vector<Span> words;
    std::vector<TokenSpan> tokens;
    for (const Segment& s : segments) {
      if (s.id >= 0) {
        push(e, s.id, {s.begin, s.end}, word++);
        continue;
      }
      normalized.clear(), words.clear();
      pipeline_->split_words(text.substr(s.begin, s.end - s.begin), s.begin, normalized, words);
      for (const Span& w : words) {
        tokens.clear();
        pipeline_->tokenize_word(std::string_view(normalized.text).substr(w.begin, w.end - w.begin),
                                 tokens);
        for (const TokenSpan& t : tokens) {
          push(e, t.id,
               {normalized.offsets[w.begin + t.begin].first,
                normalized.offsets[w.begin + t.end - 1].second},
               word);
        }
        ++word;
      }
    }
    if (post_.trim_offsets) trim_offsets(e, edge_spaces_, post_.add_prefix_space);
    if (add_special_tokens) add_post_processor_tokens(e);
    return e;
  }

  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    std::vector<std::string_view> tokens;
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size() || vocab_.tokens[id].empty()) continue;  // as HF: skipped
      if (skip_special_tokens && is_added_special(id)) continue;
      tokens.push_back(vocab_.tokens[id]);
    }
    return pipeline_->decode(tokens);
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.tokens.size()); }
  std::string id_to_token(int32_t id) const override {
    MASKLM_CHECK(id >= 0 && id < vocab_size(), "token id {} is outside the vocabulary (size {})",
                 id, vocab_size());
    return vocab_.tokens[id];
  }
  int32_t token_to_id(std::string_view token) const override { return vocab_.find(token); }
  const SpecialTokens& special_tokens() const override { return specials_; }
  bool is_special(int32_t id) const override {
    return id >= 0 && id < vocab_size() && special_[id];
  }
  WordBoundary word_boundary() const override { return pipeline_->word_boundary(); }

 private:
  static void push(Encoding& e, int32_t id, Offsets offsets, int32_t word) {
    e.ids.push_back(id);
    e.offsets.push_back(offsets);
    e.word_ids.push_back(word);
  }

  void add_post_processor_tokens(Encoding& e) const {
    Encoding wrapped;
    for (int32_t id : post_.prefix) push(wrapped, id, {0, 0}, -1);
    wrapped.ids.insert(wrapped.ids.end(), e.ids.begin(), e.ids.end());
    wrapped.offsets.insert(wrapped.offsets.end(), e.offsets.begin(), e.offsets.end());
    wrapped.word_ids.insert(wrapped.word_ids.end(), e.word_ids.begin(), e.word_ids.end());
    for (int32_t id : post_.suffix) push(wrapped, id, {0, 0}, -1);
    e = std::move(wrapped);
  }

  void parse_added_tokens(const json& added) {
    for (const json& t : added) {
      AddedToken token{json_at(t, "content", "added_tokens").get<std::string>(),
                       json_at(t, "id", "added_tokens").get<int32_t>(), t.value("lstrip", false),
                       t.value("rstrip", false), t.value("special", false)};
      MASKLM_CHECK(!t.value("single_word", false),
                   "tokenizer.json: added token '{}' has single_word, which is not supported",
                   token.content);
      // Hugging Face matches "normalized" added tokens in the normalized text; that is the
      // raw text only when there is no normalizer.
      const bool normalized = t.value("normalized", !token.special);
      MASKLM_CHECK(!normalized || !pipeline_->has_normalizer(),
                   "tokenizer.json: added token '{}' is matched after normalization "
                   "(normalized: true), which masklm does not support",
                   token.content);
      MASKLM_CHECK(!token.content.empty(), "tokenizer.json: an added token is empty");
      if (vocab_.find(token.content) < 0 || vocab_.tokens[token.id] != token.content)
        vocab_.add(token.content, token.id);
      if (token.special) added_special_.push_back(token.id);
      (normalized ? normalized_added_ : raw_added_).push_back(std::move(token));
    }
  }

  bool is_added_special(int32_t id) const {
    return std::find(added_special_.begin(), added_special_.end(), id) != added_special_.end();
  }

  void find_special_tokens() {
    auto first_of = [&](std::initializer_list<std::string_view> names) {
      for (std::string_view name : names)
        if (const int32_t id = vocab_.find(name); id >= 0) return id;
      return -1;
    };
    specials_.pad = first_of({"[PAD]", "<pad>"});
    specials_.mask = first_of({"[MASK]", "<mask>"});
    specials_.unk = pipeline_->unk_id() >= 0 ? pipeline_->unk_id() : first_of({"[UNK]", "<unk>"});
    specials_.cls = post_.prefix.size() == 1 ? post_.prefix[0] : first_of({"[CLS]", "<s>"});
    specials_.sep = post_.suffix.size() == 1 ? post_.suffix[0] : first_of({"[SEP]", "</s>"});
    special_.assign(vocab_.tokens.size(), false);
    for (int32_t id : added_special_) special_[id] = true;
    for (const auto* ids : {&post_.prefix, &post_.suffix})
      for (int32_t id : *ids) special_.at(id) = true;
  }

  Vocab vocab_;
  std::unique_ptr<Pipeline> pipeline_;
  std::vector<AddedToken> raw_added_, normalized_added_;
  std::vector<int32_t> added_special_;
  PostProcessor post_;
  SpecialTokens specials_;
  std::vector<bool> special_;
  std::vector<std::pair<uint16_t, uint16_t>> edge_spaces_;  // per id, for trim_offsets
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const std::filesystem::path& tokenizer_json) {
  std::ifstream in(tokenizer_json);
  MASKLM_CHECK(in.good(), "cannot open tokenizer file {}", tokenizer_json.string());
  json config;
  try {
    config = json::parse(in);
  } catch (const json::exception& e) {
    MASKLM_FAIL("{} is not valid JSON: {}", tokenizer_json.string(), e.what());
  }
  try {
    return std::make_unique<HfTokenizer>(config);
  } catch (const json::exception& e) {
    MASKLM_FAIL("{}: unexpected tokenizer.json content: {}", tokenizer_json.string(), e.what());
  }
}

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::string> texts,
                                              bool add_special_tokens) const {
  std::vector<Encoding> out(texts.size());
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 16) num_threads(num_threads())
  for (size_t i = 0; i < texts.size(); ++i) {
    try {
      out[i] = encode(texts[i], add_special_tokens);
    } catch (...) {
#pragma omp critical(masklm_encode_batch_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

bool Tokenizer::starts_word(int32_t id) const {
  if (is_special(id)) return true;
  const std::string token = id_to_token(id);
  switch (word_boundary()) {
    case WordBoundary::CONTINUATION_PREFIX: return !token.starts_with("##");
    case WordBoundary::SPACE_PREFIX_G: return token.starts_with("\xC4\xA0");         // "Ġ"
    case WordBoundary::SPACE_PREFIX_META: return token.starts_with("\xE2\x96\x81");  // "▁"
  }
  return false;
}

uint64_t Tokenizer::vocab_hash() const {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis and prime
  auto mix = [&hash](unsigned char byte) { hash = (hash ^ byte) * 0x100000001b3ull; };
  for (int32_t id = 0; id < vocab_size(); ++id) {
    for (int shift = 0; shift < 32; shift += 8) mix(static_cast<unsigned char>(id >> shift));
    for (unsigned char byte : id_to_token(id)) mix(byte);
    mix(0xFF);  // never inside UTF-8, so (id, token) pairs cannot run together
  }
  return hash;
}

}  // namespace masklm
