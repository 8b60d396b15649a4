// A token n-gram (n <= kMaxNgram) as a fixed-size hash key, for PMI counting and lookup.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace masklm {

// Levine et al. (2021) use n-grams up to length 5.
constexpr int32_t kMaxNgram = 5;

struct NgramKey {
  std::array<int32_t, kMaxNgram> ids;
  int32_t n = 0;

  static NgramKey of(std::span<const int32_t> tokens) {
    NgramKey key;
    key.ids.fill(-1);
    key.n = static_cast<int32_t>(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) key.ids[i] = tokens[i];
    return key;
  }
  std::span<const int32_t> tokens() const { return {ids.data(), static_cast<size_t>(n)}; }
  bool operator==(const NgramKey&) const = default;
};

struct NgramKeyHash {
  size_t operator()(const NgramKey& key) const {
    uint64_t h = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(key.n + 1);
    for (int32_t i = 0; i < key.n; ++i) {  // splitmix64 finalizer per token
      h ^= static_cast<uint32_t>(key.ids[static_cast<size_t>(i)]) + 0x9E3779B97F4A7C15ull;
      h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
      h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
      h ^= h >> 31;
    }
    return static_cast<size_t>(h);
  }
};

}  // namespace masklm
