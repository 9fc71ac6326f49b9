// Activation functions: each a forward/backward pair over a matrix, and the
// name <-> enum table the Python layer, the CLI and model files share.
//
// Backward passes take the activation's *output* A, not its input Z: every
// activation here has a derivative expressible in A (sigmoid: A (1 - A); tanh:
// 1 - A^2; relu: A > 0), so the network keeps one buffer per layer, not two.
// Softmax works on whole rows and belongs to output layers only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

enum class Activation { Sigmoid, Tanh, Relu, Identity, Softmax };

// --- names ----------------------------------------------------------------------

inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::Relu: return "relu";
    case Activation::Identity: return "identity";
    case Activation::Softmax: return "softmax";
  }
  return "?";
}

// The activation called `name`, or std::invalid_argument naming `what`.
// Softmax is accepted only where `allow_softmax` (output layers).
inline Activation activation_from_name(const std::string& name, const char* what,
                                       bool allow_softmax) {
  for (Activation a : {Activation::Sigmoid, Activation::Tanh, Activation::Relu,
                       Activation::Identity, Activation::Softmax})
    if (name == activation_name(a) && (a != Activation::Softmax || allow_softmax)) return a;
  throw std::invalid_argument(std::string(what) + " must be one of 'sigmoid', 'tanh', 'relu', 'identity'" +
                              (allow_softmax ? ", 'softmax'" : "") + "; got '" + name + "'");
}

// --- scalar functions -----------------------------------------------------------------

template <class T>
inline T sigmoid(T z) {
  return T(1) / (T(1) + std::exp(-z));
}

// Row-wise softmax in place, stable for any finite logits: exp(z - max) / sum.
template <class T>
inline void softmax_row(T* z, std::size_t k) {
  T top = z[0];
  for (std::size_t j = 1; j < k; ++j) top = std::max(top, z[j]);
  T sum = 0;
  for (std::size_t j = 0; j < k; ++j) sum += (z[j] = std::exp(z[j] - top));
  const T inv = T(1) / sum;
  for (std::size_t j = 0; j < k; ++j) z[j] *= inv;
}

// --- forward / backward ---------------------------------------------------------------

// One row: out = f(in + b) (b may be null: no bias); out may alias in.
template <class T>
inline void activation_row(Activation a, T* out, const T* in, const T* b, std::size_t k) {
  auto x = [&](std::size_t j) { return b ? in[j] + b[j] : in[j]; };
  switch (a) {
    case Activation::Sigmoid:
      for (std::size_t j = 0; j < k; ++j) out[j] = sigmoid(x(j));
      return;
    case Activation::Tanh:
      for (std::size_t j = 0; j < k; ++j) out[j] = std::tanh(x(j));
      return;
    case Activation::Relu:
      for (std::size_t j = 0; j < k; ++j) out[j] = std::max(x(j), T(0));
      return;
    case Activation::Identity:
      for (std::size_t j = 0; j < k; ++j) out[j] = x(j);
      return;
    case Activation::Softmax:
      for (std::size_t j = 0; j < k; ++j) out[j] = x(j);
      softmax_row(out, k);
      return;
  }
}

// A = f(Z + b), in place, in one sweep: Z is (n, k) on entry and holds A on
// return; b is (k) and is added to every row.
template <class T>
void bias_activation_forward(Activation a, MatrixView<T> Z, const T* b) {
  for (std::size_t i = 0; i < Z.rows; ++i) activation_row(a, Z.row(i), Z.row(i), b, Z.cols);
}

// A = f(Z), out of place; A and Z are (n, k).
template <class T>
void activation_forward(Activation a, MatrixView<T> A, ConstMatrixView<T> Z) {
  for (std::size_t i = 0; i < Z.rows; ++i)
    activation_row(a, A.row(i), Z.row(i), static_cast<const T*>(nullptr), Z.cols);
}

// dZ = dA * f'(Z), in place, with f'(Z) computed from A = f(Z): dA is (n, k) on
// entry and holds dZ on return; A is (n, k). For softmax, the Jacobian's
// product: dZ = A * (dA - sum(dA * A)) row by row.
template <class T>
void activation_backward(Activation a, MatrixView<T> dA, ConstMatrixView<T> A) {
  for (std::size_t i = 0; i < dA.rows; ++i) {
    T* d = dA.row(i);
    const T* y = A.row(i);
    const std::size_t k = dA.cols;
    switch (a) {
      case Activation::Sigmoid:
        for (std::size_t j = 0; j < k; ++j) d[j] *= y[j] * (T(1) - y[j]);
        break;
      case Activation::Tanh:
        for (std::size_t j = 0; j < k; ++j) d[j] *= T(1) - y[j] * y[j];
        break;
      case Activation::Relu:
        for (std::size_t j = 0; j < k; ++j) d[j] = y[j] > T(0) ? d[j] : T(0);
        break;
      case Activation::Identity:
        break;
      case Activation::Softmax: {
        T dot = 0;
        for (std::size_t j = 0; j < k; ++j) dot += d[j] * y[j];
        for (std::size_t j = 0; j < k; ++j) d[j] = y[j] * (d[j] - dot);
        break;
      }
    }
  }
}

}  // namespace fastmlp
