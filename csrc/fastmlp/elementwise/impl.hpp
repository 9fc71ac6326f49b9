// The element-wise loops, written once and compiled by ref.cpp, avx2.cpp and
// avx512.cpp with their own instruction-set flags (the compiler vectorises
// them); each file wraps them in its own namespace. Include nowhere else but
// the fused kernel's variants (fused/impl.hpp), compiled the same way.
// The loops have internal linkage (an unnamed namespace), as in
// gemm/kernel_impl.hpp: otherwise an unoptimised build emits one weak copy per
// file and the linker keeps one, possibly the AVX-512 one, for every caller.
//
// exp is the project's own: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
// a Taylor polynomial in r to 2 ulp, and 2^n built from the exponent bits. It
// is adds, multiplies and fused multiply-adds (one rounding, exact everywhere: an
// instruction where the variant's flags allow, as in the GEMM kernels), so
// every instruction set (and every C library) gives the same bits; std::exp
// differs between libm versions. The fused multiply-adds make it about a
// third faster than separate multiplies and adds.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <fastmlp/activations.hpp>

namespace fastmlp::elementwise_detail {
namespace {

// --- exp ---------------------------------------------------------------------------

// a * b + c with one rounding: the C library's fma and fmaf, which the
// compiler makes an instruction where the file's flags allow. Not std::fma:
// its float overload is an inline C++ function, of which an unoptimised build
// would emit one shared copy per variant.
inline double fused(double a, double b, double c) { return ::fma(a, b, c); }
inline float fused(float a, float b, float c) { return ::fmaf(a, b, c); }

// 1/k! for k = 0 .. 13, rounded to double.
constexpr double kInverseFactorial[] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};

template <class T>
struct ExpConstants;

template <>
struct ExpConstants<double> {
  using Bits = std::int64_t;
  // Below lo, e^lo (a tiny normal number); above hi, which is past the largest
  // finite e^x (709.78...), infinity.
  static constexpr double lo = -708.0, hi = 710.0;
  static constexpr double log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 0.693145751953125;  // few bits: n * ln2_hi is exact
  static constexpr double ln2_lo = 1.4286068203094173e-06;
  static constexpr double round = 0x1.8p52;  // adding it rounds to an integer
  static constexpr int mantissa = 52, bias = 1023, terms = 13;
};

template <>
struct ExpConstants<float> {
  using Bits = std::int32_t;
  static constexpr float lo = -87.0f, hi = 89.0f;  // largest finite e^x: x = 88.72...
  static constexpr float log2e = 1.44269504f;
  static constexpr float ln2_hi = 0.693359375f;
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float round = 0x1.8p23f;
  static constexpr int mantissa = 23, bias = 127, terms = 7;
};

// sum r^k / k! for k = 0 .. N (N = 7 or 13) in Estrin's scheme: pairs, then
// pairs of pairs, so the dependency chain is 4 steps deep instead of N (the
// loops vectorise across elements; latency, not arithmetic, bounded Horner's).
template <class T, int N>
inline T taylor(T r) {
  auto c = [](int k) { return T(kInverseFactorial[k]); };
  const T r2 = r * r, r4 = r2 * r2;
  const T q0 = fused(c(1), r, c(0)), q1 = fused(c(3), r, c(2)), q2 = fused(c(5), r, c(4)),
          q3 = fused(c(7), r, c(6));
  const T low = fused(fused(q3, r2, q2), r4, fused(q1, r2, q0));  // degrees 0 .. 7
  if constexpr (N == 7) {
    return low;
  } else {
    static_assert(N == 13, "taylor<T, N> is written out for N = 7 and 13");
    const T q4 = fused(c(9), r, c(8)), q5 = fused(c(11), r, c(10)), q6 = fused(c(13), r, c(12));
    const T high = fused(q6, r4, fused(q5, r2, q4));  // degrees 8 .. 13, over r^8
    return fused(high, r4 * r4, low);
  }
}

// e^x, to about 2 ulp. x is clamped to [lo, hi]: below, e^lo, a tiny normal
// number instead of 0; above the largest finite e^x, infinity (as std::exp),
// so that a value that overflows reads as one and a diverging fit is caught.
// e^x = p 2^n with p = e^r, |r| <= ln2 / 2; 2^n is applied as two factors,
// each a normal number, so that p 2^n rounds once, to infinity when it is
// beyond the largest finite number.
template <class T>
inline T exp(T x) {
  using C = ExpConstants<T>;
  using Bits = typename C::Bits;
  x = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
  const T shifted = fused(x, T(C::log2e), T(C::round));  // the nearest integer n, in the low bits
  const T n = shifted - C::round;
  const T r = fused(-n, T(C::ln2_lo), fused(-n, T(C::ln2_hi), x));
  const T p = taylor<T, C::terms>(r);
  // Unsigned, so that a NaN x (whose bits are anything) wraps instead of
  // overflowing a signed number; p is NaN then, and so is the result.
  // m = n + 2 bias >= 0 is split into two biased exponents e1 + e2, each in
  // [1, 2 bias] over [lo, hi]: 2^(e1 - bias) 2^(e2 - bias) = 2^n.
  using UBits = std::make_unsigned_t<Bits>;
  UBits bits_shifted, bits_round;
  const T round = C::round;
  std::memcpy(&bits_shifted, &shifted, sizeof(T));
  std::memcpy(&bits_round, &round, sizeof(T));
  const UBits m = bits_shifted - bits_round + UBits(2 * C::bias);
  const UBits e1 = m >> 1, e2 = m - e1;
  const UBits bits1 = e1 << C::mantissa, bits2 = e2 << C::mantissa;
  T scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof(T));
  std::memcpy(&scale2, &bits2, sizeof(T));
  return p * scale1 * scale2;
}

// --- the sweeps -----------------------------------------------------------------------

template <class T>
void activate(Activation f, T* x, std::size_t count) {
  switch (f.kind) {
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < count; ++i) x[i] = T(1) / (T(1) + exp(-x[i]));
      return;
    case Activation::Tanh:  // 1 - 2 / (e^{2x} + 1), exact at the extremes
      for (std::size_t i = 0; i < count; ++i) x[i] = T(1) - T(2) / (exp(T(2) * x[i]) + T(1));
      return;
    case Activation::Relu:  // NaN stays NaN (as NumPy's maximum), so a NaN weight shows
      for (std::size_t i = 0; i < count; ++i) x[i] = !(x[i] <= T(0)) ? x[i] : T(0);
      return;
    case Activation::LeakyRelu: {
      const T slope = static_cast<T>(f.slope);
      for (std::size_t i = 0; i < count; ++i) x[i] = x[i] > T(0) ? x[i] : slope * x[i];
      return;
    }
    case Activation::Exp:
      for (std::size_t i = 0; i < count; ++i) x[i] = exp(x[i]);
      return;
    case Activation::Identity:
    case Activation::Softmax:
      return;
  }
}

template <class T>
void activate_backward(Activation f, T* d, const T* a, std::size_t count) {
  switch (f.kind) {
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < count; ++i) d[i] *= a[i] * (T(1) - a[i]);
      return;
    case Activation::Tanh:
      for (std::size_t i = 0; i < count; ++i) d[i] *= T(1) - a[i] * a[i];
      return;
    case Activation::Relu:
      for (std::size_t i = 0; i < count; ++i) d[i] = a[i] > T(0) ? d[i] : T(0);
      return;
    case Activation::LeakyRelu: {
      const T slope = static_cast<T>(f.slope);
      for (std::size_t i = 0; i < count; ++i) d[i] = a[i] > T(0) ? d[i] : slope * d[i];
      return;
    }
    case Activation::Exp:  // exp' = exp
      for (std::size_t i = 0; i < count; ++i) d[i] *= a[i];
      return;
    case Activation::Identity:
    case Activation::Softmax:
      return;
  }
}

template <class T>
void exp_inplace(T* x, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) x[i] = exp(x[i]);
}

}  // namespace
}  // namespace fastmlp::elementwise_detail
