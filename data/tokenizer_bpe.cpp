// RoBERTa/GPT-2's family: the ByteLevel pre-tokenizer (GPT-2 regex, add_prefix_space, bytes
// spelled as printable characters), the BPE model (merges by rank, with a cache) and the
// ByteLevel decoder, with Hugging Face's semantics (tokenizers/src/models/bpe,
// pre_tokenizers/byte_level.rs).
#include <array>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/tokenizer_pipeline.h"
#include "data/unicode.h"
#include "runtime/error.h"

namespace masklm::tokenizer_detail {

namespace {

using nlohmann::json;

std::array<std::string, 256> make_byte_alphabet() {
  // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others (controls,
  // space, DEL, NBSP, soft hyphen) for the code points from U+0100 on, in byte order.
  std::array<std::string, 256> alphabet;
  char32_t next_unprintable = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    unicode::append_utf8(alphabet[b], printable ? static_cast<char32_t>(b) : next_unprintable++);
  }
  return alphabet;
}

// The GPT-2 pre-tokenizer regex, written out by hand (same matches, no regex engine):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Returns the end of the match that starts at `pos`.
size_t gpt2_match_end(std::string_view s, size_t pos) {
  if (s[pos] == '\'' && pos + 1 < s.size()) {
    const char a = s[pos + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    const std::string_view two = s.substr(pos + 1, 2);
    if (two == "re" || two == "ve" || two == "ll") return pos + 3;
  }
  constexpr uint8_t kClasses =
      unicode::FLAG_REGEX_LETTER | unicode::FLAG_REGEX_NUMBER | unicode::FLAG_REGEX_SPACE;
  auto class_at = [&](size_t at, size_t& length) {
    return static_cast<uint8_t>(unicode::flags(unicode::decode_utf8(s, at, length)) & kClasses);
  };
  // A run of characters of one class (letters, numbers, or "others" = class 0).
  auto run_end = [&](size_t at, uint8_t cls) {
    size_t length = 0;
    while (at < s.size() && class_at(at, length) == cls) at += length;
    return at;
  };
  size_t length = 0;
  const uint8_t first = class_at(pos, length);
  if (s[pos] == ' ' && pos + 1 < s.size()) {
    size_t next_length = 0;
    const uint8_t next = class_at(pos + 1, next_length);
    if (next != unicode::FLAG_REGEX_SPACE) return run_end(pos + 1, next);
  }
  if (first != unicode::FLAG_REGEX_SPACE) return run_end(pos, first);
  // Whitespace: all of it at the end of the text; before a non-space, all but its last
  // character (which then prefixes the next word), unless it is a single character.
  size_t end = pos, last = pos;
  while (end < s.size() && class_at(end, length) == unicode::FLAG_REGEX_SPACE) {
    last = end;
    end += length;
  }
  return end == s.size() || last == pos ? end : last;
}

// Sharded so that encoding threads rarely wait on each other; bounded like Hugging Face's.
class MergeCache {
 public:
  bool find(std::string_view word, std::vector<TokenSpan>& out) const {
    Shard& shard = shard_for(word);
    std::lock_guard lock(shard.mutex);
    const auto it = shard.entries.find(word);
    if (it == shard.entries.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void insert(std::string_view word, std::vector<TokenSpan> tokens) const {
    Shard& shard = shard_for(word);
    std::lock_guard lock(shard.mutex);
    if (shard.entries.size() < kEntriesPerShard) shard.entries.emplace(word, std::move(tokens));
  }

 private:
  static constexpr size_t kShards = 64, kEntriesPerShard = 2048;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<TokenSpan>, StringHash, std::equal_to<>> entries;
  };
  Shard& shard_for(std::string_view word) const { return shards_[StringHash{}(word) % kShards]; }
  mutable std::array<Shard, kShards> shards_;
};

class ByteLevelBpePipeline final : public Pipeline {
 public:
  ByteLevelBpePipeline(const json& config, Vocab& vocab) : vocab_(vocab) {
    const std::string normalizer = json_type(config.value("normalizer", json()));
    MASKLM_CHECK(normalizer == "null",
                 "tokenizer.json: normalizer '{}' is not supported with byte-level BPE",
                 normalizer);
    const json& pre = json_at(config, "pre_tokenizer", "tokenizer.json");
    MASKLM_CHECK(json_type(pre) == "ByteLevel",
                 "tokenizer.json: pre_tokenizer '{}' is not supported with BPE (supported: "
                 "ByteLevel)",
                 json_type(pre));
    add_prefix_space_ = pre.value("add_prefix_space", true);
    use_regex_ = pre.value("use_regex", true);
    parse_model(config["model"], vocab);
    const std::string decoder = json_type(config.value("decoder", json()));
    MASKLM_CHECK(decoder == "ByteLevel" || decoder == "null",
                 "tokenizer.json: decoder '{}' is not supported with byte-level BPE (supported: "
                 "ByteLevel or none)",
                 decoder);
    byte_level_decoder_ = decoder == "ByteLevel";
  }

  void split_words(std::string_view segment, size_t base, Normalized& out,
                   std::vector<Span>& words) const override {
    size_t length = 0;
    if (add_prefix_space_ && segment[0] != ' ') {
      // The added space belongs to the segment's first character, as in Hugging Face.
      unicode::decode_utf8(segment, 0, length);
      out.push(' ', {base, base + length});
    }
    for (size_t pos = 0; pos < segment.size(); pos += length) {
      unicode::decode_utf8(segment, pos, length);
      out.text.append(segment.substr(pos, length));
      out.offsets.insert(out.offsets.end(), length, Offsets{base + pos, base + pos + length});
    }
    if (!use_regex_) {
      words.push_back({0, out.text.size()});
      return;
    }
    for (size_t pos = 0; pos < out.text.size();) {
      const size_t end = gpt2_match_end(out.text, pos);
      words.push_back({pos, end});
      pos = end;
    }
  }

  void tokenize_word(std::string_view word, std::vector<TokenSpan>& out) const override {
    if (cache_.find(word, out)) return;
    std::vector<TokenSpan> tokens = ignore_merges_ ? whole_word(word) : std::vector<TokenSpan>{};
    if (tokens.empty()) tokens = merge(word);
    out.insert(out.end(), tokens.begin(), tokens.end());
    cache_.insert(word, std::move(tokens));
  }

  std::string decode(const std::vector<std::string_view>& tokens) const override {
    if (!byte_level_decoder_) {
      std::string text;
      for (size_t i = 0; i < tokens.size(); ++i) (text += i > 0 ? " " : "") += tokens[i];
      return text;
    }
    std::string bytes;
    for (std::string_view token : tokens) {
      // A token with a character outside the byte alphabet (an added token such as "<s>"
      // is inside it) is kept as it is spelled, as Hugging Face does.
      std::string token_bytes;
      bool in_alphabet = true;
      for (size_t pos = 0, length = 0; pos < token.size() && in_alphabet; pos += length) {
        const auto it = byte_of_char_.find(unicode::decode_utf8(token, pos, length));
        in_alphabet = it != byte_of_char_.end();
        if (in_alphabet) token_bytes.push_back(static_cast<char>(it->second));
      }
      bytes += in_alphabet ? token_bytes : std::string(token);
    }
    return unicode::to_valid_utf8(bytes);
  }

  WordBoundary word_boundary() const override { return WordBoundary::SPACE_PREFIX_G; }
  bool has_normalizer() const override { return false; }
  int32_t unk_id() const override { return unk_id_; }

 private:
  void parse_model(const json& model, Vocab& vocab) {
    for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix"}) {
      MASKLM_CHECK(!model.contains(key) || model[key].is_null() ||
                       (model[key].is_string() && model[key].get<std::string>().empty()),
                   "tokenizer.json: BPE model setting '{}' is not supported", key);
    }
    json_expect(model, "byte_fallback", false, "BPE model");
    json_expect(model, "fuse_unk", false, "BPE model");
    ignore_merges_ = model.value("ignore_merges", false);
    for (const auto& [token, id] : json_at(model, "vocab", "model").items())
      vocab.add(token, id.get<int32_t>());
    if (model.contains("unk_token") && !model["unk_token"].is_null())
      unk_id_ = vocab.find(model["unk_token"].get<std::string>());
    const auto alphabet = byte_alphabet();
    for (int b = 0; b < 256; ++b) {
      byte_id_[b] = vocab.find(alphabet[b]);
      MASKLM_CHECK(byte_id_[b] >= 0,
                   "tokenizer.json: the byte-level vocab lacks '{}' (byte 0x{:02X}); masklm "
                   "needs all 256 byte characters",
                   alphabet[b], b);
      size_t length = 0;
      byte_of_char_[unicode::decode_utf8(alphabet[b], 0, length)] = static_cast<uint8_t>(b);
    }
    const json& merges = json_at(model, "merges", "model");
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& merge = merges[rank];
      std::string left, right;
      if (merge.is_array() && merge.size() == 2) {
        left = merge[0].get<std::string>(), right = merge[1].get<std::string>();
      } else {
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        MASKLM_CHECK(space != std::string::npos && text.find(' ', space + 1) == std::string::npos,
                     "tokenizer.json: merge {} '{}' is not two tokens", rank, text);
        left = text.substr(0, space), right = text.substr(space + 1);
      }
      const int32_t a = vocab.find(left), b = vocab.find(right), merged = vocab.find(left + right);
      MASKLM_CHECK(a >= 0 && b >= 0 && merged >= 0,
                   "tokenizer.json: merge {} '{} {}' uses a token that is not in the vocab", rank,
                   left, right);
      merges_.emplace(pair_key(a, b), MergeTarget{static_cast<int32_t>(rank), merged});
    }
  }

  std::vector<TokenSpan> whole_word(std::string_view word) const {
    std::string spelled;
    const auto& alphabet = byte_alphabet();
    for (unsigned char b : word) spelled += alphabet[b];
    const int32_t id = vocab_.find(spelled);
    if (id < 0) return {};
    return {{id, 0, static_cast<uint32_t>(word.size())}};
  }

  // Hugging Face's Word::merge_all, step for step (including how it skips stale queue
  // entries), so that ties and merges that produce the same token resolve identically.
  std::vector<TokenSpan> merge(std::string_view word) const {
    struct Symbol {
      int32_t id;
      int prev, next;
      uint32_t begin, length;
    };
    struct Candidate {
      int32_t rank;
      int pos;
      int32_t new_id;
      bool operator<(const Candidate& o) const {  // the queue pops the lowest rank, then pos
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    const int n = static_cast<int>(word.size());
    std::vector<Symbol> symbols(n);
    for (int i = 0; i < n; ++i)
      symbols[i] = {byte_id_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1,
                    static_cast<uint32_t>(i), 1};
    std::priority_queue<Candidate> queue;
    auto push_pair = [&](int pos) {
      const int next = symbols[pos].next;
      const auto it = merges_.find(pair_key(symbols[pos].id, symbols[next].id));
      if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.new_id});
    };
    for (int i = 0; i + 1 < n; ++i) push_pair(i);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& current = symbols[top.pos];
      if (current.length == 0 || current.next == -1) continue;
      Symbol& right = symbols[current.next];
      const auto it = merges_.find(pair_key(current.id, right.id));
      if (it == merges_.end() || it->second.new_id != top.new_id) continue;
      current.id = top.new_id;
      current.length += right.length;
      current.next = right.next;
      right.length = 0;
      if (current.next != -1) symbols[current.next].prev = top.pos;
      if (current.prev != -1) push_pair(current.prev);
      if (current.next != -1) push_pair(top.pos);
    }
    std::vector<TokenSpan> tokens;
    for (int i = 0; i != -1 && i < n; i = symbols[i].next)
      tokens.push_back({symbols[i].id, symbols[i].begin, symbols[i].begin + symbols[i].length});
    return tokens;
  }

  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  struct MergeTarget {
    int32_t rank, new_id;
  };

  const Vocab& vocab_;
  bool add_prefix_space_ = true, use_regex_ = true, ignore_merges_ = false;
  bool byte_level_decoder_ = true;
  int32_t unk_id_ = -1;
  std::array<int32_t, 256> byte_id_{};
  std::unordered_map<char32_t, uint8_t> byte_of_char_;
  std::unordered_map<uint64_t, MergeTarget> merges_;
  MergeCache cache_;
};

}  // namespace

const std::array<std::string, 256>& byte_alphabet() {
  static const std::array<std::string, 256> alphabet = make_byte_alphabet();
  return alphabet;
}

std::unique_ptr<Pipeline> make_byte_level_bpe_pipeline(const json& config, Vocab& vocab) {
  return std::make_unique<ByteLevelBpePipeline>(config, vocab);
}

}  // namespace masklm::tokenizer_detail
