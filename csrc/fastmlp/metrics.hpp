// Evaluation figures computed from outputs and one-hot (or scored) targets.
#pragma once

#include <cstddef>

#include <fastmlp/activations.hpp>
#include <fastmlp/matrix.hpp>

namespace fastmlp {

// The index of the largest value in row i of M (the first, on ties).
template <class T>
std::size_t argmax_row(ConstMatrixView<T> M, std::size_t i) {
  const T* row = M.row(i);
  std::size_t best = 0;
  for (std::size_t j = 1; j < M.cols; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// The class a network predicts from its output row `row` of k values: the
// argmax (the first on ties); with a single output, 1 where it exceeds 0.5
// (a sigmoid output layer) or 0 (any other), else 0.
template <class T>
std::size_t predicted_class(const T* row, std::size_t k, Activation output) {
  if (k == 1) return row[0] > (output == Activation::Sigmoid ? T(0.5) : T(0)) ? 1 : 0;
  return argmax_row(ConstMatrixView<T>(row, 1, k), 0);
}

// The fraction of rows whose argmax in P equals the argmax in Y; P, Y (n, k).
template <class T, class U>
double accuracy(ConstMatrixView<T> P, ConstMatrixView<U> Y) {
  if (P.rows == 0) return 0.0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < P.rows; ++i) correct += argmax_row(P, i) == argmax_row(Y, i);
  return static_cast<double>(correct) / static_cast<double>(P.rows);
}

}  // namespace fastmlp
