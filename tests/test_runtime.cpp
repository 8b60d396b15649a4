// Runtime: Philox against the published answers, arenas, tensor views, dtypes, checks, and
// which rank of a job logs what.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "expect_error.h"
#include "runtime/arena.h"
#include "runtime/dtype.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace masklm {
namespace {

using testing::expect_error;

// ---- Philox ---------------------------------------------------------------------------

struct PhiloxKnownAnswer {
  PhiloxCounter counter;
  PhiloxKey key;
  PhiloxCounter expected;
};

// Random123's kat_vectors for philox4x32 with 10 rounds (Salmon et al., SC'11): zeros,
// all ones, and the hexadecimal digits of pi.
constexpr PhiloxKnownAnswer kPhiloxKnownAnswers[] = {
    {{{0x00000000, 0x00000000, 0x00000000, 0x00000000}},
     {{0x00000000, 0x00000000}},
     {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
    {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
     {{0xffffffff, 0xffffffff}},
     {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
    {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
     {{0xa4093822, 0x299f31d0}},
     {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
};

TEST(Philox, MatchesRandom123KnownAnswers) {
  for (const PhiloxKnownAnswer& kat : kPhiloxKnownAnswers) {
    const PhiloxCounter out = philox4x32_10(kat.counter, kat.key);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(out.c[i], kat.expected.c[i]) << "word " << i << " for counter " << std::hex << kat.counter.c[0];
  }
}

TEST(Philox, UniformIsInUnitIntervalAtTheExtremes) {
  EXPECT_EQ(u32_to_uniform(0u), 0.0f);
  EXPECT_LT(u32_to_uniform(0xffffffffu), 1.0f);
  EXPECT_EQ(u32_to_uniform(0xffffffffu), 1.0f - 1.0f / 16777216.0f);
}

TEST(Philox, UniformPassesChiSquare) {
  // 1e6 draws into 100 equal bins: under uniformity the statistic is chi-square with 99
  // degrees of freedom (mean 99, sd 14); P(X > 181) ~ 1e-6 (Wilson-Hilferty).
  constexpr int kBins = 100;
  constexpr int64_t kDraws = 1'000'000;
  const RngKey key{.seed = 0x1234'5678'9abc'def0ull, .step = 7, .rank = 1, .stream = RngStream::MASKING};
  std::vector<int64_t> counts(kBins);
  for (int64_t i = 0; i < kDraws; ++i) {
    const float u = philox_uniform(key, static_cast<uint64_t>(i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    ++counts[static_cast<size_t>(u * kBins)];
  }
  const double expected = static_cast<double>(kDraws) / kBins;
  double chi_square = 0;
  for (int64_t c : counts) chi_square += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  EXPECT_LT(chi_square, 181.0);
}

TEST(Philox, StreamsStepsAndSeedsGiveDifferentDraws) {
  const RngKey base{.seed = 42, .step = 3, .rank = 0, .stream = RngStream::HIDDEN_DROPOUT};
  RngKey other_step = base, other_stream = base, other_seed = base, other_substream = base;
  other_step.step = 4;
  other_stream.stream = RngStream::ATTENTION_DROPOUT;
  other_seed.seed = 43;
  other_substream.substream = 1;
  for (const RngKey& k : {other_step, other_stream, other_seed, other_substream})
    EXPECT_NE(philox_u32(base, 0), philox_u32(k, 0));
  // Draws 4i..4i+3 are the four words of block i.
  const PhiloxCounter block = philox_block(base, 5);
  for (uint32_t w = 0; w < 4; ++w) EXPECT_EQ(philox_u32(base, 20 + w), block.c[w]);
}

// ---- Arena ----------------------------------------------------------------------------

// The allocation sequence both the measuring and the real arena run.
std::vector<Tensor> allocate_mixed(Arena& arena) {
  return {arena.alloc({3}, DType::F32),        arena.alloc({7, 5}, DType::BF16),
          arena.alloc_packed({2, 2}, DType::BF16), arena.alloc({1}, DType::I64),
          arena.alloc({4, 4, 4}, DType::F64),   arena.alloc({0}, DType::F32)};
}

// In a job of two processes rank 0 alone writes info lines; warnings come from every rank,
// tagged with it. A single process writes both, untagged.
TEST(Log, OnlyRankZeroWritesInfoAndEveryRankWarns) {
  const LogLevel level = log_level();
  set_log_level(LogLevel::INFO);
  const auto written = [](int rank, int world_size) {
    set_log_rank(rank, world_size);
    ::testing::internal::CaptureStderr();
    log_info("step {}", 7);
    log_warn("careful {}", 8);
    return ::testing::internal::GetCapturedStderr();
  };
  EXPECT_EQ(written(1, 2), "[masklm warn, rank 1] careful 8\n");
  EXPECT_EQ(written(0, 2), "[masklm info] step 7\n[masklm warn, rank 0] careful 8\n");
  EXPECT_EQ(written(0, 1), "[masklm info] step 7\n[masklm warn] careful 8\n");
  set_log_level(level);
}

TEST(Arena, EveryAllocIs256ByteAligned) {
  Arena arena(1 << 16, Device::CPU);
  arena.alloc_packed({3}, DType::BF16);  // leaves the arena at an odd offset
  for (const Shape& shape : {Shape{1}, Shape{3, 7}, Shape{0}, Shape{65}, Shape{2, 3, 5}})
    for (DType dtype : {DType::BF16, DType::F32, DType::F64}) {
      const Tensor t = arena.alloc(shape, dtype);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % kArenaAlignment, 0u) << shape.str() << dtype_name(dtype);
    }
}

TEST(Arena, PackedAllocsAreContiguous) {
  Arena arena(4096, Device::CPU);
  const Tensor q = arena.alloc({3, 5}, DType::F32);
  const Tensor k = arena.alloc_packed({3, 5}, DType::F32);
  const Tensor v = arena.alloc_packed({3, 5}, DType::F32);
  EXPECT_EQ(static_cast<char*>(k.data), static_cast<char*>(q.data) + q.nbytes());
  EXPECT_EQ(static_cast<char*>(v.data), static_cast<char*>(k.data) + k.nbytes());
  EXPECT_EQ(arena.used(), 3 * q.nbytes());
}

TEST(Arena, MeasuringArenaReportsTheSizeOfARealOne) {
  Arena measuring = Arena::measuring();
  for (const Tensor& t : allocate_mixed(measuring)) EXPECT_TRUE(t.empty());
  Arena real(measuring.used(), Device::CPU);
  allocate_mixed(real);
  EXPECT_EQ(real.used(), measuring.used());
  EXPECT_EQ(real.used(), real.capacity());  // exactly enough: the real run did not throw
}

TEST(Arena, ExhaustionThrows) {
  Arena arena(1024, Device::CPU);
  arena.alloc({200}, DType::F32);  // 800 bytes, next alignment point is 1024
  expect_error([&] { arena.alloc({1}, DType::F32); }, {"arena exhausted", "capacity 1024"});
  expect_error([&] { Arena(64, Device::CPU).alloc({17}, DType::F32); }, {"arena exhausted"});
}

TEST(Arena, ZeroClearsTheUsedBytes) {
  Arena arena(4096, Device::CPU);
  const Tensor a = arena.alloc({10}, DType::I32);
  const Tensor b = arena.alloc({3}, DType::F64);
  for (int i = 0; i < 10; ++i) a.ptr<int32_t>()[i] = i + 1;
  for (int i = 0; i < 3; ++i) b.ptr<double>()[i] = -1.5;
  arena.zero();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.ptr<int32_t>()[i], 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.ptr<double>()[i], 0.0);
}

TEST(Arena, FlatViewCoversTheUsedRegion) {
  Arena arena(4096, Device::CPU);
  const Tensor first = arena.alloc({3}, DType::F32);
  const Tensor second = arena.alloc({5}, DType::F32);
  const Tensor flat = arena.flat(DType::F32);
  EXPECT_EQ(flat.data, arena.base());
  EXPECT_EQ(flat.data, first.data);
  EXPECT_EQ(flat.numel(), static_cast<int64_t>(kArenaAlignment / sizeof(float) + 5));
  second.ptr<float>()[4] = 9.f;
  EXPECT_EQ(flat.ptr<float>()[flat.numel() - 1], 9.f);
  arena.alloc({1}, DType::BF16);  // used is now 2 mod 4
  expect_error([&] { arena.flat(DType::F32); }, {"not a multiple of F32"});
}

// ---- Tensor views, dtypes, checks -------------------------------------------------------

TEST(Tensor, RowsAndViewCheckBounds) {
  std::vector<float> storage(12);
  const Tensor t{storage.data(), {4, 3}, DType::F32, Device::CPU};
  const Tensor middle = t.rows(1, 3);
  EXPECT_EQ(middle.shape, (Shape{2, 3}));
  EXPECT_EQ(middle.ptr<float>(), storage.data() + 3);
  EXPECT_EQ(t.rows(4, 4).numel(), 0);
  expect_error([&] { t.rows(2, 1); }, {"rows [2, 1) out of range for shape [4, 3]"});
  expect_error([&] { t.rows(0, 5); }, {"out of range"});
  expect_error([&] { t.rows(-1, 2); }, {"out of range"});
  expect_error([&] { Tensor{storage.data(), Shape{}, DType::F32, Device::CPU}.rows(0, 0); }, {"out of range"});

  EXPECT_EQ(t.view({2, 6}).shape, (Shape{2, 6}));
  EXPECT_EQ(t.view({12}).data, t.data);
  expect_error([&] { t.view({5, 2}); }, {"cannot view [4, 3] as [5, 2]"});
}

TEST(Tensor, TypedPointerChecksTheDtype) {
  std::vector<float> storage(4);
  const Tensor t{storage.data(), {4}, DType::F32, Device::CPU};
  EXPECT_EQ(t.ptr<float>(), storage.data());
  expect_error([&] { t.ptr<double>(); }, {"tensor holds F32, accessed as F64"});
  expect_error([&] { t.ptr<int32_t>(); }, {"accessed as I32"});
}

TEST(Tensor, ShapesHaveAtMostFourDims) {
  EXPECT_EQ((Shape{1, 2, 3, 4}).numel(), 24);
  EXPECT_EQ(Shape{}.numel(), 1);
  expect_error([] { Shape{1, 2, 3, 4, 5}; }, {"at most 4 dimensions"});
}

TEST(Tensor, ArgumentChecksNameTheTensor) {
  const Tensor t{nullptr, {2, 3}, DType::F32, Device::CPU};
  check_shape(t, {2, 3}, "weight");
  check_dtype(t, DType::F32, "weight");
  expect_error([&] { check_shape(t, {3, 2}, "weight"); }, {"weight has shape [2, 3], expected [3, 2]"});
  expect_error([&] { check_dtype(t, DType::BF16, "weight"); }, {"weight has dtype F32, expected BF16"});
}

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::F16, DType::I32, DType::I64})
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t) << dtype_name(t);
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  expect_error([] { dtype_from_name("F8_E5M2"); }, {"unsupported dtype 'F8_E5M2'"});
  expect_error([] { dtype_from_name("f32"); }, {"unsupported dtype 'f32'"});  // names are case-sensitive
}

TEST(Error, CheckReportsFileLineAndCondition) {
  const int answer = 41;
  int line = 0;
  try {
    line = __LINE__ + 1;
    MASKLM_CHECK(answer == 42, "answer is {}", answer);
    ADD_FAILURE() << "MASKLM_CHECK did not throw";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("answer is 41"), std::string::npos) << message;
    EXPECT_NE(message.find("answer == 42"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("test_runtime.cpp:") + std::to_string(line)), std::string::npos) << message;
  }
  EXPECT_NO_THROW(MASKLM_CHECK(answer == 41, "never formatted"));
  expect_error([] { MASKLM_FAIL("plain {}", "failure"); }, {"plain failure"});
}

}  // namespace
}  // namespace masklm
