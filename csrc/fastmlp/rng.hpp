// The project's random number generator: xoshiro256** seeded through SplitMix64.
//
// Both algorithms are fixed here, bit for bit (Blackman and Vigna, 2018), so a
// seed gives the same stream on every platform, compiler and standard library.
// That is why the core never uses <random>'s distributions: their output is
// implementation-defined. Not cryptographic.
#pragma once

#include <cmath>
#include <cstdint>

namespace fastmlp {

// log(x) for finite x > 0 from frexp and plain adds, multiplies and divides,
// so every C library gives the same bits (std::log may not): x = m 2^e with
// m in [sqrt(1/2), sqrt(2)), and log m = 2 atanh(s), s = (m - 1) / (m + 1),
// |s| < 0.172, summed to s^23 (the next term is below 1e-19).
inline double portable_log(double x) noexcept {
  int e = 0;
  double m = std::frexp(x, &e);  // m in [1/2, 1)
  if (m < 0.70710678118654752) {
    m *= 2;
    --e;
  }
  const double s = (m - 1) / (m + 1), s2 = s * s;
  double series = 0;  // atanh(s) / s = sum of s^(2j) / (2j + 1)
  for (int j = 11; j >= 0; --j) series = series * s2 + 1.0 / (2 * j + 1);
  return e * 0.69314718055994531 + 2 * s * series;
}

class Rng {
 public:
  // The four words of state are SplitMix64's first four outputs from `seed`.
  explicit Rng(std::uint64_t seed) noexcept {
    for (auto& word : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  // The next 64 random bits (xoshiro256**).
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1): the top 53 bits as a double's mantissa.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform in [0, 1) as a float: the top 24 bits (a double rounded to float
  // could round up to 1).
  float uniform_float() noexcept { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }

  // Standard normal (mean 0, variance 1), by Marsaglia's polar method: a
  // point uniform in the unit disc gives u * sqrt(-2 log(s) / s). The pair's
  // second value is dropped, so each draw depends only on the stream.
  double normal() noexcept {
    for (;;) {
      const double u = 2 * uniform() - 1, v = 2 * uniform() - 1, s = u * u + v * v;
      if (s < 1 && s > 0) return u * std::sqrt(-2 * portable_log(s) / s);
    }
  }

  // Uniform in [0, n) for n > 0, without bias: draws masked to the next power
  // of two, rejecting those >= n (fewer than two draws on average).
  std::uint64_t below(std::uint64_t n) noexcept {
    std::uint64_t mask = n - 1;
    for (int shift = 1; shift < 64; shift <<= 1) mask |= mask >> shift;
    for (;;) {
      const std::uint64_t x = next() & mask;
      if (x < n) return x;
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace fastmlp
