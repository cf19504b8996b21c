// The simulator's float16 / bfloat16 conversions (csrc/cuda/dtypes.cuh), which the mma.sync
// bodies and every 16-bit kernel use, against independent definitions: every one of the 65536
// half and bfloat16 patterns is decoded by ldexp arithmetic, and float -> 16-bit rounding is
// checked at and around every representable value (round to nearest, ties to even).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cuda/dtypes.cuh"
#include "sim_test.h"

namespace {

namespace bits = cnnops::cuda::sim_bits;

// A 16-bit pattern's value from its fields, as IEEE 754 defines binary16 (5 exponent bits) and
// bfloat16 (8): bias 2^(e-1) - 1, subnormals below the smallest exponent.
double value_of(uint16_t h, int exp_bits) {
  const int mant_bits = 15 - exp_bits, bias = (1 << (exp_bits - 1)) - 1, max_exp = (1 << exp_bits) - 1;
  const int sign = h >> 15, exp = (h >> mant_bits) & max_exp, mant = h & ((1 << mant_bits) - 1);
  double v;
  if (exp == max_exp) v = mant ? NAN : INFINITY;
  else if (exp == 0) v = std::ldexp(double(mant), 1 - bias - mant_bits);
  else v = std::ldexp(double((1 << mant_bits) + mant), exp - bias - mant_bits);
  return sign ? -v : v;
}

double half_value(uint16_t h) { return value_of(h, 5); }
double bf16_value(uint16_t h) { return value_of(h, 8); }

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b)); }

// Nearest-even rounding of v to the grid of a 16-bit format, by brute force over neighbours.
template <typename Value>
uint16_t round_by_search(float v, Value value_of, uint16_t start) {
  uint16_t best = start;
  for (int d = -2; d <= 2; ++d) {
    const uint16_t c = uint16_t(start + d);
    if (std::isnan(value_of(c))) continue;
    const double e = std::fabs(value_of(c) - double(v)), eb = std::fabs(value_of(best) - double(v));
    if (std::isnan(value_of(best)) || e < eb || (e == eb && (c & 1) == 0 && (best & 1) == 1)) best = c;
  }
  return best;
}

}  // namespace

TEST(half_and_bf16_decode_every_pattern) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    bad += !same(bits::half_to_float(uint16_t(h)), half_value(uint16_t(h)));
    bad += !same(bits::bf16_to_float(uint16_t(h)), bf16_value(uint16_t(h)));
  }
  CHECK_EQ(bad, 0);
}

TEST(float_to_half_and_bf16_round_to_nearest_even) {
  int bad = 0;
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // every finite non-negative half: the value, and the
    const double v = half_value(uint16_t(h)), next = half_value(uint16_t(h + 1));  // midpoint to the next
    for (double probe : {v, (v + next) / 2, v + (next - v) / 4, v + 3 * (next - v) / 4}) {
      const float f = float(probe);
      if (double(f) != probe || std::isinf(next)) continue;  // not exact in float: no tie to check
      const uint16_t want = round_by_search(f, half_value, uint16_t(h));
      bad += bits::float_to_half(f) != want;
      bad += bits::float_to_half(-f) != uint16_t(want | 0x8000u);
    }
  }
  for (uint32_t h = 0; h < 0x7f80; h += 7) {  // bfloat16: a sample of every binade
    const double v = bf16_value(uint16_t(h)), next = bf16_value(uint16_t(h + 1));
    for (double probe : {v, (v + next) / 2, v + (next - v) / 4, v + 3 * (next - v) / 4}) {
      const float f = float(probe);
      if (double(f) != probe || std::isinf(next)) continue;
      bad += bits::float_to_bf16(f) != round_by_search(f, bf16_value, uint16_t(h));
    }
  }
  CHECK_EQ(bad, 0);
  // Overflow, infinities and NaN.
  CHECK_EQ(bits::float_to_half(65520.0f), uint16_t(0x7c00));  // the midpoint above 65504 rounds to inf
  CHECK_EQ(bits::float_to_half(65519.0f), uint16_t(0x7bff));
  CHECK_EQ(bits::float_to_half(-INFINITY), uint16_t(0xfc00));
  CHECK(std::isnan(bits::half_to_float(bits::float_to_half(NAN))));
  CHECK(std::isnan(bits::bf16_to_float(bits::float_to_bf16(NAN))));
  CHECK_EQ(bits::float_to_bf16(INFINITY), uint16_t(0x7f80));
  CHECK_EQ(bits::float_to_half(std::ldexp(1.0f, -25)), uint16_t(0));           // tie between 0 and the
  CHECK_EQ(bits::float_to_half(std::ldexp(1.5f, -25)), uint16_t(1));           // smallest subnormal
}
