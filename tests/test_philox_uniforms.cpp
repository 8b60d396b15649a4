// kernels/cpu/philox_uniforms.h against the scalar definition philox_uniform() (itself
// checked against Random123's published answers in test_runtime.cpp): bitwise, at every
// offset within a Philox block, for lengths around the vector path's 16-block steps, across
// a block index's 2^32 carry, and for every field of the key; through philox_uniforms() and
// each of its two implementations (the AVX2 one where the CPU has AVX2).
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cpu/philox_uniforms.h"

namespace masklm::cpu {
namespace {

using Uniforms = void (*)(const RngKey&, uint64_t, int64_t, float*);

bool have_avx2_path() { return philox_uniforms_avx2(RngKey{}, 0, 0, nullptr); }

// philox_uniforms() and the implementations it picks from, by name.
std::vector<std::pair<const char*, Uniforms>> implementations() {
  std::vector<std::pair<const char*, Uniforms>> list{{"dispatch", philox_uniforms},
                                                     {"scalar", philox_uniforms_scalar}};
  if (have_avx2_path())
    list.emplace_back("avx2", [](const RngKey& key, uint64_t first, int64_t n, float* out) {
      (void)philox_uniforms_avx2(key, first, n, out);
    });
  return list;
}

// Draws `uniforms` got wrong, or wrote past out[n] (a sentinel guards it).
int64_t count_wrong(Uniforms uniforms, const RngKey& key, uint64_t first, int64_t n) {
  constexpr float kSentinel = -1.0f;  // no uniform is negative
  std::vector<float> out(static_cast<size_t>(n) + 1, kSentinel);
  uniforms(key, first, n, out.data());
  int64_t wrong = out[static_cast<size_t>(n)] != kSentinel;
  for (int64_t j = 0; j < n; ++j)
    wrong += std::bit_cast<uint32_t>(out[static_cast<size_t>(j)]) !=
             std::bit_cast<uint32_t>(philox_uniform(key, first + static_cast<uint64_t>(j)));
  return wrong;
}

const RngKey kKey{0x0123456789ABCDEFull, 17, 3, RngStream::HIDDEN_DROPOUT, 0xABCDE};

TEST(PhiloxUniforms, MatchTheScalarDrawsAtEveryOffsetAndLength) {
  // Lengths up to 4 vector steps of 16 blocks (64 draws each) and beyond, from each offset
  // within a block; 2^34 - 50 starts 13 blocks before the block index's low word wraps.
  for (const auto& [name, uniforms] : implementations()) {
    SCOPED_TRACE(name);
    for (uint64_t first :
         {0ull, 1ull, 2ull, 3ull, 4ull, 1001ull, (1ull << 34) - 50, (1ull << 45) + 6})
      for (int64_t n = 0; n <= 300; ++n)
        ASSERT_EQ(count_wrong(uniforms, kKey, first, n), 0) << first << " " << n;
    EXPECT_EQ(count_wrong(uniforms, kKey, 7, 5000), 0);
  }
}

TEST(PhiloxUniforms, TheAvx2PathIsBuiltWhereTheCpuHasAvx2) {
  // The tests above include the AVX2 implementation only where it runs: on an x86-64 CPU
  // with AVX2 it must, or a build mistake would leave it untested; elsewhere say so.
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this CPU: scalar path only";
  EXPECT_TRUE(have_avx2_path()) << "this CPU has AVX2, but the build left the AVX2 path out";
#else
  GTEST_SKIP() << "not x86-64: scalar path only";
#endif
}

TEST(PhiloxUniforms, EveryFieldOfTheKeyIsUsed) {
  std::vector<RngKey> keys(6, kKey);
  keys[1].seed ^= 1ull << 40;  // the key's high word
  keys[2].step += 1;
  keys[3].rank += 1;
  keys[4].stream = RngStream::ATTENTION_DROPOUT;
  keys[5].substream += 1;
  std::vector<std::vector<float>> draws;
  for (const RngKey& key : keys) {
    for (const auto& [name, uniforms] : implementations())
      EXPECT_EQ(count_wrong(uniforms, key, 5, 259), 0) << name;
    draws.emplace_back(259);
    philox_uniforms(key, 5, 259, draws.back().data());
  }
  for (size_t a = 0; a < draws.size(); ++a)
    for (size_t b = a + 1; b < draws.size(); ++b) EXPECT_NE(draws[a], draws[b]) << a << " " << b;
}

TEST(PhiloxUniforms, ChunksCoverTheRunInOrder) {
  const int64_t n = 2 * kUniformChunk + 3;
  std::vector<float> got(static_cast<size_t>(n), -1.0f);
  int64_t expected_start = 0;
  for_each_uniform_chunk(kKey, 2, n, [&](int64_t j, const float* uniforms, int64_t count) {
    EXPECT_EQ(j, expected_start);
    EXPECT_LE(count, kUniformChunk);
    std::copy_n(uniforms, count, got.begin() + j);
    expected_start = j + count;
  });
  EXPECT_EQ(expected_start, n);
  std::vector<float> want(static_cast<size_t>(n));
  philox_uniforms(kKey, 2, n, want.data());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace masklm::cpu
