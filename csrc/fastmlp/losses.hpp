// Loss functions: each returns the loss and writes its gradient with respect to
// the network's output A in one pass.
//
// mse is the article's: L = 1/2 * sum over samples and outputs of (A - Y)^2,
// summed, not averaged, so that its gradient A - Y is exactly the article's
// error Y - A with the sign that makes "W -= lr * dW" its "W += lr * adj".
#pragma once

#include <cstddef>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

// dA = A - Y; returns 1/2 * sum((A - Y)^2). A, Y, dA are (n, k).
template <class T>
double mse_forward_backward(MatrixView<T> dA, ConstMatrixView<T> A, ConstMatrixView<T> Y) {
  double loss = 0;
  for (std::size_t i = 0; i < A.rows; ++i) {
    const T* a = A.row(i);
    const T* y = Y.row(i);
    T* d = dA.row(i);
    for (std::size_t j = 0; j < A.cols; ++j) {
      d[j] = a[j] - y[j];
      loss += static_cast<double>(d[j]) * static_cast<double>(d[j]);
    }
  }
  return 0.5 * loss;
}

}  // namespace fastmlp
