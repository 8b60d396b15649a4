// runtime/half.h: float <-> bf16 / fp16 on hand-computed bit patterns: exact values, ties
// to even, the largest finite values and overflow, fp16 subnormals, NaN, signed zero; and
// the conversions chosen by DType.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "expect_error.h"
#include "runtime/half.h"

namespace masklm {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The float just above x (x finite and positive).
float next_up(float x) { return std::nextafter(x, kInf); }

// Conversions are constexpr, so the simplest cases are checked at compile time too.
static_assert(float_to_bf16(1.0f) == 0x3F80 && float_to_f16(1.0f) == 0x3C00);
static_assert(bf16_to_float(0x3F80) == 1.0f && f16_to_float(0x3C00) == 1.0f);

TEST(Bf16, ExactValuesRoundTrip) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_bf16(0.15625f), 0x3E20);
  EXPECT_EQ(bf16_to_float(0x3E20), 0.15625f);
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto b = static_cast<uint16_t>(bits);
    if (std::isnan(bf16_to_float(b))) continue;
    EXPECT_EQ(float_to_bf16(bf16_to_float(b)), b) << bits;
  }
}

TEST(Bf16, TiesRoundToEven) {
  // 1 + 2^-8 is halfway between 1 (0x3F80, even) and 1 + 2^-7 (0x3F81): down to even.
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(float_to_bf16(next_up(1.0f + 0x1p-8f)), 0x3F81);
  // 1 + 3 * 2^-8 is halfway between 0x3F81 (odd) and 0x3F82: up to even.
  EXPECT_EQ(float_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(float_to_bf16(-(1.0f + 3 * 0x1p-8f)), 0xBF82);
}

TEST(Bf16, LargestFiniteAndOverflow) {
  const float largest = bf16_to_float(0x7F7F);  // (2 - 2^-7) * 2^127
  EXPECT_EQ(largest, 0x1.FEp127f);
  EXPECT_EQ(float_to_bf16(largest), 0x7F7F);
  // Halfway to 2^128 rounds to even, which is the next exponent: inf.
  EXPECT_EQ(float_to_bf16(0x1.FFp127f), 0x7F80);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(float_to_bf16(-kInf), 0xFF80);
  EXPECT_EQ(bf16_to_float(0x7F80), kInf);
}

TEST(Bf16, NanStaysNanAndZeroKeepsItsSign) {
  EXPECT_EQ(float_to_bf16(std::nanf("")), kCanonicalNaN16);
  // A NaN whose payload lies only in the low half would truncate to inf; it must not.
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x7F800001u)), kCanonicalNaN16);
  EXPECT_EQ(float_to_bf16(-std::nanf("")), kCanonicalNaN16);
  EXPECT_TRUE(std::isnan(bf16_to_float(kCanonicalNaN16)));
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(bf16_to_float(0x8000)));
  EXPECT_EQ(bf16_to_float(0x8000), 0.0f);
}

TEST(F16, ExactValuesRoundTrip) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_f16(0.333251953125f), 0x3555);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    if (std::isnan(f16_to_float(h))) continue;
    EXPECT_EQ(float_to_f16(f16_to_float(h)), h) << bits;
  }
}

TEST(F16, TiesRoundToEven) {
  // 1 + 2^-11 is halfway between 1 (0x3C00) and 1 + 2^-10 (0x3C01): down to even.
  EXPECT_EQ(float_to_f16(1.0f + 0x1p-11f), 0x3C00);
  EXPECT_EQ(float_to_f16(next_up(1.0f + 0x1p-11f)), 0x3C01);
  EXPECT_EQ(float_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);
  // 2047.5 is halfway between 2047 (0x67FF, odd) and 2048 (0x6800): up, into the next binade.
  EXPECT_EQ(float_to_f16(2047.5f), 0x6800);
}

TEST(F16, LargestFiniteAndOverflow) {
  EXPECT_EQ(float_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(float_to_f16(65519.0f), 0x7BFF);  // below halfway to 2^16
  EXPECT_EQ(float_to_f16(65520.0f), 0x7C00);  // halfway, ties to even: inf
  EXPECT_EQ(float_to_f16(1e6f), 0x7C00);
  EXPECT_EQ(float_to_f16(-1e6f), 0xFC00);
  EXPECT_EQ(float_to_f16(kInf), 0x7C00);
  EXPECT_EQ(f16_to_float(0xFC00), -kInf);
}

TEST(F16, Subnormals) {
  EXPECT_EQ(float_to_f16(0x1p-24f), 0x0001);  // the smallest subnormal
  EXPECT_EQ(f16_to_float(0x0001), 0x1p-24f);
  EXPECT_EQ(float_to_f16(-0x1p-24f), 0x8001);
  EXPECT_EQ(float_to_f16(0x1p-14f - 0x1p-24f), 0x03FF);  // the largest subnormal
  EXPECT_EQ(f16_to_float(0x03FF), 0x1p-14f - 0x1p-24f);
  EXPECT_EQ(float_to_f16(0x1p-14f), 0x0400);  // the smallest normal
  // Halfway between the largest subnormal and the smallest normal: up to even (0x0400).
  EXPECT_EQ(float_to_f16(0x1p-14f - 0x1p-25f), 0x0400);
  // 3 * 2^-25 is halfway between 1 and 2 subnormal steps: to even (2).
  EXPECT_EQ(float_to_f16(3 * 0x1p-25f), 0x0002);
  // 2^-25 is halfway between 0 and the smallest subnormal: to even (0); above it, up.
  EXPECT_EQ(float_to_f16(0x1p-25f), 0x0000);
  EXPECT_EQ(float_to_f16(next_up(0x1p-25f)), 0x0001);
  EXPECT_EQ(float_to_f16(0x1p-30f), 0x0000);
  EXPECT_EQ(float_to_f16(-0x1p-30f), 0x8000);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
}

TEST(F16, NanStaysNanAndZeroKeepsItsSign) {
  EXPECT_EQ(float_to_f16(std::nanf("")), kCanonicalNaN16);
  EXPECT_EQ(float_to_f16(std::bit_cast<float>(0x7F800001u)), kCanonicalNaN16);
  EXPECT_TRUE(std::isnan(f16_to_float(kCanonicalNaN16)));
  EXPECT_TRUE(std::isnan(f16_to_float(0xFE01)));
  EXPECT_EQ(float_to_f16(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)));
  EXPECT_EQ(f16_to_float(0x8000), 0.0f);
}

TEST(Half, ConversionsByDtype) {
  EXPECT_EQ(float_to_16bit(DType::BF16, 1.0f), 0x3F80);
  EXPECT_EQ(float_to_16bit(DType::F16, 1.0f), 0x3C00);
  EXPECT_EQ(float_from_16bit(DType::BF16, 0x3F80), 1.0f);
  EXPECT_EQ(float_from_16bit(DType::F16, 0x3C00), 1.0f);
  testing::expect_error([] { float_to_16bit(DType::F32, 1.0f); }, "F32 is not a 16-bit");
  testing::expect_error([] { float_from_16bit(DType::I32, 0); }, "I32 is not a 16-bit");
}

}  // namespace
}  // namespace masklm
