#include "data/tokenizer_train_merges.h"

#include <algorithm>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

#include "runtime/error.h"

namespace masklm::tokenizer_detail {

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Candidate {
  int64_t count;
  int32_t left, right;
  bool operator<(const Candidate& o) const {  // the queue pops the highest count, then ids
    return std::tie(count, o.left, o.right) < std::tie(o.count, left, right);
  }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> learn_merges(std::vector<WordCount> words,
                                                              std::vector<std::string>& vocab,
                                                              size_t vocab_size,
                                                              MergedSpelling merged) {
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < vocab.size(); ++i) ids.emplace(vocab[i], static_cast<int32_t>(i));
  std::vector<std::vector<int32_t>> spelled(words.size());
  for (size_t w = 0; w < words.size(); ++w) {
    for (const std::string& symbol : words[w].symbols) {
      const auto it = ids.find(symbol);
      MASKLM_CHECK(it != ids.end(), "tokenizer training: symbol '{}' is not in the alphabet",
                   symbol);
      spelled[w].push_back(it->second);
    }
  }
  // Pair counts over all words (weighted by word count), and which words hold each pair.
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::set<uint32_t>> pair_words;
  auto count_pairs = [&](uint32_t w, int64_t sign) {
    const auto& s = spelled[w];
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t key = pair_key(s[i], s[i + 1]);
      pair_counts[key] += sign * words[w].count;
      if (sign > 0) pair_words[key].insert(w);
    }
  };
  for (uint32_t w = 0; w < words.size(); ++w) count_pairs(w, +1);
  std::priority_queue<Candidate> queue;
  for (const auto& [key, count] : pair_counts)
    queue.push({count, static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFF)});

  std::vector<std::pair<std::string, std::string>> merges;
  while (vocab.size() < vocab_size && !queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const uint64_t key = pair_key(top.left, top.right);
    if (pair_counts[key] != top.count) continue;  // stale: a fresher entry was pushed
    if (top.count < 2) break;
    const std::string token = merged(vocab[top.left], vocab[top.right]);
    auto [it, added] = ids.emplace(token, static_cast<int32_t>(vocab.size()));
    if (added) vocab.push_back(token);
    merges.emplace_back(vocab[top.left], vocab[top.right]);
    std::set<uint64_t> changed;
    for (uint32_t w : std::set<uint32_t>(pair_words[key])) {
      auto& s = spelled[w];
      // Pairs this word loses and gains both change counts; each gets a fresh entry.
      for (size_t i = 0; i + 1 < s.size(); ++i) changed.insert(pair_key(s[i], s[i + 1]));
      count_pairs(w, -1);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] == top.left && s[i + 1] == top.right) {
          s[i] = it->second;
          s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        }
      }
      count_pairs(w, +1);
      for (size_t i = 0; i + 1 < s.size(); ++i) changed.insert(pair_key(s[i], s[i + 1]));
    }
    pair_words.erase(key);
    for (uint64_t k : changed) {
      const int64_t count = pair_counts[k];
      if (count > 0)
        queue.push({count, static_cast<int32_t>(k >> 32), static_cast<int32_t>(k & 0xFFFFFFFF)});
    }
  }
  return merges;
}

}  // namespace masklm::tokenizer_detail
