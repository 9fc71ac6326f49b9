// Activation functions: each a forward/backward pair over a matrix, and the
// name table the Python layer, the CLI and model files share.
//
// Backward passes take the activation's *output* A, not its input Z: every
// activation here has a derivative expressible in A (sigmoid: A (1 - A); tanh:
// 1 - A^2; relu and leaky_relu: the sign of A; exp: A itself), so the network keeps one buffer per layer, not two.
// Softmax works on whole rows and, like exp (the log link of Poisson regression),
// belongs to output layers only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <fastmlp/elementwise.hpp>
#include <fastmlp/matrix.hpp>
#include <fastmlp/names.hpp>

namespace fastmlp {

// An activation: which function, and leaky_relu's slope for negative inputs
// (ignored by the others). `Activation::Relu` and friends convert to one, so
// call sites name the function alone; compare kinds with ==.
struct Activation {
  enum Kind { Sigmoid, Tanh, Relu, LeakyRelu, Identity, Softmax, Exp };
  static constexpr double kDefaultSlope = 0.01;

  constexpr Activation(Kind k = Sigmoid, double leaky_slope = kDefaultSlope) noexcept
      : kind(k), slope(leaky_slope) {}
  friend constexpr bool operator==(Activation a, Kind k) noexcept { return a.kind == k; }
  friend constexpr bool operator!=(Activation a, Kind k) noexcept { return a.kind != k; }

  Kind kind;
  double slope;
};

// --- names ----------------------------------------------------------------------


inline const char* activation_name(Activation a) {
  switch (a.kind) {
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::Relu: return "relu";
    case Activation::LeakyRelu: return "leaky_relu";
    case Activation::Identity: return "identity";
    case Activation::Softmax: return "softmax";
    case Activation::Exp: return "exp";
  }
  return "?";
}

// The activation called `name` (with the default leaky slope), or
// std::invalid_argument naming `what`. Softmax and exp are accepted only where
// `allow_softmax` (output layers).
inline Activation activation_from_name(const std::string& name, const char* what,
                                       bool allow_softmax) {
  constexpr Activation::Kind hidden[] = {Activation::Sigmoid, Activation::Tanh, Activation::Relu,
                                         Activation::LeakyRelu, Activation::Identity};
  constexpr Activation::Kind output[] = {Activation::Sigmoid,   Activation::Tanh,
                                         Activation::Relu,      Activation::LeakyRelu,
                                         Activation::Identity, Activation::Softmax,
                                         Activation::Exp};
  const auto name_of = [](Activation::Kind k) { return activation_name(k); };
  return allow_softmax ? from_name(what, name, output, name_of) : from_name(what, name, hidden, name_of);
}

// --- forward / backward over matrices --------------------------------------------------

// Row-wise softmax in place, stable for any finite logits: exp(z - max) / sum.
template <class T>
inline void softmax_row(T* z, std::size_t k) {
  T top = z[0];
  for (std::size_t j = 1; j < k; ++j) top = std::max(top, z[j]);
  for (std::size_t j = 0; j < k; ++j) z[j] -= top;
  exp_inplace(z, k);
  T sum = 0;
  for (std::size_t j = 0; j < k; ++j) sum += z[j];
  const T inv = T(1) / sum;
  for (std::size_t j = 0; j < k; ++j) z[j] *= inv;
}

// b (k) added to each of `rows` contiguous rows of k values at z. Narrow rows
// would each be a loop too short to vectorise, so up to kNarrow columns (and
// from kRepeat rows, enough to repay building it) the rows are walked as one
// run against b repeated 8 times (a period of 8 k values, a whole number of
// vectors of any width); the same additions.
template <class T>
void add_bias_rows(T* z, std::size_t rows, std::size_t k, const T* b) {
  constexpr std::size_t kRepeat = 8, kNarrow = 32;
  if (k > kNarrow || rows < kRepeat) {
    for (std::size_t i = 0; i < rows; ++i, z += k)
      for (std::size_t j = 0; j < k; ++j) z[j] += b[j];
    return;
  }
  T pattern[kRepeat * kNarrow];
  const std::size_t period = kRepeat * k, count = rows * k;
  for (std::size_t e = 0, j = 0; e < period; ++e, j = j + 1 == k ? 0 : j + 1) pattern[e] = b[j];
  std::size_t e = 0;
  for (; e + period <= count; e += period)
    for (std::size_t q = 0; q < period; ++q) z[e + q] += pattern[q];
  for (std::size_t q = 0; e + q < count; ++q) z[e + q] += pattern[q];
}

// A = f(Z + b), in place: Z is (n, k) on entry and holds A on return; b is (k)
// and is added to every row (b may be null: no bias). One pass over memory:
// rows go through in blocks of about 16 KiB, each activated while the bias
// add has just left it in L1; a block's rows are one sweep when contiguous.
template <class T>
void bias_activation_forward(Activation f, MatrixView<T> Z, const T* b) {
  constexpr std::size_t kBlockBytes = 16 * 1024;
  const std::size_t block = std::max<std::size_t>(1, kBlockBytes / sizeof(T) / std::max<std::size_t>(1, Z.cols));
  for (std::size_t first = 0; first < Z.rows; first += block) {
    const std::size_t last = std::min(Z.rows, first + block);
    if (b != nullptr && Z.stride == Z.cols)
      add_bias_rows(Z.row(first), last - first, Z.cols, b);
    else if (b != nullptr)
      for (std::size_t i = first; i < last; ++i) add_bias_rows(Z.row(i), 1, Z.cols, b);
    if (f == Activation::Softmax)
      for (std::size_t i = first; i < last; ++i) softmax_row(Z.row(i), Z.cols);
    else if (Z.stride == Z.cols)
      activate(f, Z.row(first), (last - first) * Z.cols);
    else
      for (std::size_t i = first; i < last; ++i) activate(f, Z.row(i), Z.cols);
  }
}

// A = f(Z), out of place; A and Z are (n, k).
template <class T>
void activation_forward(Activation f, MatrixView<T> A, ConstMatrixView<T> Z) {
  for (std::size_t i = 0; i < Z.rows; ++i) std::copy(Z.row(i), Z.row(i) + Z.cols, A.row(i));
  bias_activation_forward<T>(f, A, nullptr);
}

// dZ = dA * f'(Z), in place, with f'(Z) computed from A = f(Z): dA is (n, k) on
// entry and holds dZ on return; A is (n, k). For softmax, the Jacobian's
// product: dZ = A * (dA - sum(dA * A)) row by row.
template <class T>
void activation_backward(Activation f, MatrixView<T> dA, ConstMatrixView<T> A) {
  if (f == Activation::Softmax) {
    for (std::size_t i = 0; i < dA.rows; ++i) {
      T* d = dA.row(i);
      const T* y = A.row(i);
      T dot = 0;
      for (std::size_t j = 0; j < dA.cols; ++j) dot += d[j] * y[j];
      for (std::size_t j = 0; j < dA.cols; ++j) d[j] = y[j] * (d[j] - dot);
    }
  } else if (dA.stride == dA.cols && A.stride == A.cols) {
    activate_backward(f, dA.data, A.data, dA.rows * dA.cols);
  } else {
    for (std::size_t i = 0; i < dA.rows; ++i) activate_backward(f, dA.row(i), A.row(i), dA.cols);
  }
}

}  // namespace fastmlp
