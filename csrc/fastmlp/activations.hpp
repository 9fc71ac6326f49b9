// Activation functions: each a forward/backward pair over a matrix, and the
// name <-> enum table the Python layer, the CLI and model files share.
//
// Backward passes take the activation's *output* A, not its input Z: every
// activation here has a derivative expressible in A (sigmoid: A (1 - A)), so
// the network keeps one buffer per layer instead of two.
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

enum class Activation { Sigmoid };

// --- names ----------------------------------------------------------------------

inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Sigmoid: return "sigmoid";
  }
  return "?";
}

// The activation called `name`, or std::invalid_argument naming `what`.
inline Activation activation_from_name(const std::string& name, const char* what) {
  if (name == "sigmoid") return Activation::Sigmoid;
  throw std::invalid_argument(std::string(what) + " must be one of 'sigmoid'; got '" + name + "'");
}

// --- sigmoid ----------------------------------------------------------------------

template <class T>
inline T sigmoid(T z) {
  return T(1) / (T(1) + std::exp(-z));
}

// --- forward / backward ---------------------------------------------------------------

// A = f(Z + b), in place, in one sweep: Z is (n, k) on entry and holds A on
// return; b is (k) and is added to every row.
template <class T>
void bias_activation_forward(Activation a, MatrixView<T> Z, const T* b) {
  switch (a) {
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < Z.rows; ++i) {
        T* z = Z.row(i);
        for (std::size_t j = 0; j < Z.cols; ++j) z[j] = sigmoid(z[j] + b[j]);
      }
      return;
  }
}

// dZ = dA * f'(Z), in place, with f'(Z) computed from A = f(Z): dA is (n, k) on
// entry and holds dZ on return; A is (n, k).
template <class T>
void activation_backward(Activation a, MatrixView<T> dA, ConstMatrixView<T> A) {
  switch (a) {
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < dA.rows; ++i) {
        T* d = dA.row(i);
        const T* y = A.row(i);
        for (std::size_t j = 0; j < dA.cols; ++j) d[j] *= y[j] * (T(1) - y[j]);
      }
      return;
  }
}

}  // namespace fastmlp
