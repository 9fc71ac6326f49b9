// Inverted dropout on hidden layers while training: each unit's activation is
// zeroed with probability p and the survivors scaled by 1 / (1 - p), so that
// prediction (the plain forward pass) needs no rescaling.
//
// The masks are counter-based: unit j of training row r in layer l during
// epoch e keeps its value when u(seed, e, l, r, j) >= p, u a SplitMix64 hash
// of those numbers mapped to [0, 1). A mask depends on nothing else (not on
// the batch a row falls in, its place there, the thread that computes it, or
// the dtype), so a seed gives the same network for any thread count and order
// of evaluation. r is the row's index in the data the fit trains on.
#pragma once

#include <cstddef>
#include <cstdint>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

// SplitMix64's output function on x + its increment: a bijective 64-bit mix.
inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  std::uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The epoch's part of the masks' key: the fit's seed and the epoch's number
// (counted over fits, as the shuffles are).
struct DropoutKey {
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;

  // The key of row `row`'s masks in layer `layer` (a hash of all four).
  std::uint64_t row_key(std::size_t layer, std::size_t row) const noexcept {
    std::uint64_t h = splitmix64(seed ^ 0x6a09e667f3bcc909ULL);
    h = splitmix64(h ^ epoch);
    h = splitmix64(h ^ static_cast<std::uint64_t>(layer));
    return splitmix64(h ^ static_cast<std::uint64_t>(row));
  }
};

// Unit `unit`'s draw in [0, 1) under a row's key: the top 53 bits of its hash.
inline double dropout_uniform(std::uint64_t row_key, std::size_t unit) noexcept {
  return static_cast<double>(splitmix64(row_key + 0xd1b54a32d192ed03ULL * unit) >> 11) * 0x1.0p-53;
}

// mask (units) = 1 / (1 - p) where the unit is kept, 0 where dropped, for a
// row's key; p in [0, 1).
template <class T>
void dropout_mask_row(T* mask, std::uint64_t row_key, std::size_t units, double p) {
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  for (std::size_t j = 0; j < units; ++j) mask[j] = dropout_uniform(row_key, j) >= p ? scale : T(0);
}

// --- forward / backward ----------------------------------------------------------------

// D = A * mask element by element; A, D and mask are (n, units). D is what the
// next layer reads; A stays for the activation's derivative.
template <class T>
void dropout_forward(MatrixView<T> D, ConstMatrixView<T> A, ConstMatrixView<T> mask) {
  for (std::size_t i = 0; i < A.rows; ++i)
    for (std::size_t j = 0; j < A.cols; ++j) D(i, j) = A(i, j) * mask(i, j);
}

// dD (n, units), the gradient at D, becomes the gradient at A in place: dD * mask.
template <class T>
void dropout_backward(MatrixView<T> dD, ConstMatrixView<T> mask) {
  for (std::size_t i = 0; i < dD.rows; ++i)
    for (std::size_t j = 0; j < dD.cols; ++j) dD(i, j) *= mask(i, j);
}

}  // namespace fastmlp
