// The element-wise loops, written once and compiled by ref.cpp, avx2.cpp and
// avx512.cpp with their own instruction-set flags (the compiler vectorises
// them); each file wraps them in its own namespace. Include nowhere else.
//
// exp is the project's own: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
// a Taylor polynomial in r to 2 ulp, and 2^n built from the exponent bits. It
// is plain adds and multiplies, so every instruction set (and every C library)
// gives the same bits; std::exp differs between libm versions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <fastmlp/activations.hpp>

namespace fastmlp::elementwise_detail {

// --- exp ---------------------------------------------------------------------------

// 1/k! for k = 0 .. 13, rounded to double.
constexpr double kInverseFactorial[] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};

template <class T>
struct ExpConstants;

template <>
struct ExpConstants<double> {
  using Bits = std::int64_t;
  static constexpr double lo = -708.0, hi = 709.0;  // 2^n stays a normal number
  static constexpr double log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 0.693145751953125;  // few bits: n * ln2_hi is exact
  static constexpr double ln2_lo = 1.4286068203094173e-06;
  static constexpr double round = 0x1.8p52;  // adding it rounds to an integer
  static constexpr int mantissa = 52, bias = 1023, terms = 13;
};

template <>
struct ExpConstants<float> {
  using Bits = std::int32_t;
  static constexpr float lo = -87.0f, hi = 88.0f;
  static constexpr float log2e = 1.44269504f;
  static constexpr float ln2_hi = 0.693359375f;
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float round = 0x1.8p23f;
  static constexpr int mantissa = 23, bias = 127, terms = 7;
};

// e^x, to about 2 ulp, for finite x (clamped to [lo, hi]: below, a tiny normal
// number instead of 0; above, a huge finite one instead of inf).
template <class T>
inline T exp(T x) {
  using C = ExpConstants<T>;
  using Bits = typename C::Bits;
  x = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
  const T shifted = x * C::log2e + C::round;  // the nearest integer n, in the low bits
  const T n = shifted - C::round;
  const T r = (x - n * C::ln2_hi) - n * C::ln2_lo;
  T p = T(kInverseFactorial[C::terms]);  // Horner form of sum r^k / k!, k = 0 .. terms
  for (int k = C::terms - 1; k >= 0; --k) p = p * r + T(kInverseFactorial[k]);
  Bits bits_shifted, bits_round;
  const T round = C::round;
  std::memcpy(&bits_shifted, &shifted, sizeof(T));
  std::memcpy(&bits_round, &round, sizeof(T));
  const Bits scale_bits = (bits_shifted - bits_round + C::bias) << C::mantissa;
  T scale;
  std::memcpy(&scale, &scale_bits, sizeof(T));
  return p * scale;
}

// --- the sweeps -----------------------------------------------------------------------

template <class T>
void activate(Activation f, T* x, std::size_t count) {
  switch (f) {
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < count; ++i) x[i] = T(1) / (T(1) + exp(-x[i]));
      return;
    case Activation::Tanh:  // 1 - 2 / (e^{2x} + 1), exact at the extremes
      for (std::size_t i = 0; i < count; ++i) x[i] = T(1) - T(2) / (exp(T(2) * x[i]) + T(1));
      return;
    case Activation::Relu:
      for (std::size_t i = 0; i < count; ++i) x[i] = x[i] > T(0) ? x[i] : T(0);
      return;
    case Activation::Identity:
    case Activation::Softmax:
      return;
  }
}

template <class T>
void activate_backward(Activation f, T* d, const T* a, std::size_t count) {
  switch (f) {
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < count; ++i) d[i] *= a[i] * (T(1) - a[i]);
      return;
    case Activation::Tanh:
      for (std::size_t i = 0; i < count; ++i) d[i] *= T(1) - a[i] * a[i];
      return;
    case Activation::Relu:
      for (std::size_t i = 0; i < count; ++i) d[i] = a[i] > T(0) ? d[i] : T(0);
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

}  // namespace fastmlp::elementwise_detail
