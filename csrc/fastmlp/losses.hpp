// Loss functions: each writes its gradient with respect to the output layer's
// pre-activation Z and, in the same pass, the terms its value adds up, which
// loss_sum then adds in a fixed order.
//
// mse is the article's: 1/2 * sum (A - Y)^2, whose gradient through the output
// activation is the article's delta with the sign that makes "W -= lr * dW" its
// "W += lr * adj". cross_entropy pairs with softmax (multi-class: -sum Y log A)
// or sigmoid (binary / multi-label: -sum Y log A + (1 - Y) log(1 - A)), and is
// computed from the logits Z with log-sum-exp, so no log(0) ever happens.
// poisson is the half Poisson deviance with a log link (output exp, A = e^Z):
// per element y log(y / a) - y + a, which is A - Y Z plus a term of Y alone
// (scikit-learn's HalfPoissonLoss with its constant, zero at a perfect fit;
// poisson_term);
// its gradient at Z is A - Y. Its targets must be >= 0 (check_targets).
// The reduction is explicit: sum over the batch, or mean (divided by its rows).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#include <fastmlp/activations.hpp>
#include <fastmlp/matrix.hpp>
#include <fastmlp/names.hpp>
#include <fastmlp/options.hpp>

namespace fastmlp {

enum class Loss { Mse, CrossEntropy, Poisson };
enum class Reduction { Sum, Mean };

// --- names ----------------------------------------------------------------------

inline const char* loss_name(Loss l) {
  switch (l) {
    case Loss::Mse: return "mse";
    case Loss::CrossEntropy: return "cross_entropy";
    case Loss::Poisson: return "poisson";
  }
  return "?";
}
inline const char* reduction_name(Reduction r) { return r == Reduction::Sum ? "sum" : "mean"; }

inline Loss loss_from_name(const std::string& name) {
  constexpr Loss all[] = {Loss::Mse, Loss::CrossEntropy, Loss::Poisson};
  return from_name("loss", name, all, loss_name);
}

inline Reduction reduction_from_name(const std::string& name) {
  constexpr Reduction all[] = {Reduction::Sum, Reduction::Mean};
  return from_name("reduction", name, all, reduction_name);
}

// std::invalid_argument unless `loss` can follow an output layer `output`.
inline void check_loss_output(Loss loss, Activation output) {
  if (loss == Loss::CrossEntropy && output != Activation::Softmax && output != Activation::Sigmoid)
    throw std::invalid_argument(std::string("loss 'cross_entropy' needs output 'softmax' or "
                                            "'sigmoid'; got '") + activation_name(output) + "'");
  if (loss == Loss::Poisson && output != Activation::Exp)
    throw std::invalid_argument(std::string("loss 'poisson' needs output 'exp' (the log link); got '") +
                                activation_name(output) + "'");
}

// Whether the loss needs the output layer's logits Z besides A = f(Z).
inline bool loss_needs_logits(Loss loss) { return loss != Loss::Mse; }

// std::invalid_argument naming `name` unless the targets Y suit `loss`:
// poisson's are counts or rates, >= 0 (assumed finite, checked before).
template <class T>
void check_targets(Loss loss, ConstMatrixView<T> Y, const char* name) {
  if (loss != Loss::Poisson) return;
  for (std::size_t i = 0; i < Y.rows; ++i)
    for (std::size_t j = 0; j < Y.cols; ++j)
      if (!(Y(i, j) >= T(0)))
        throw std::invalid_argument(std::string(name) + " must be >= 0 for loss 'poisson'; found " +
                                    number_text(Y(i, j)) + " at row " + std::to_string(i) +
                                    ", column " + std::to_string(j));
}

// --- loss and output delta --------------------------------------------------------------

// The loss terms of one row (see loss_forward_backward): one per output for mse
// and for cross_entropy after sigmoid, one per row after softmax.
inline std::size_t loss_terms_per_row(Loss loss, Activation output, std::size_t k) {
  return loss == Loss::CrossEntropy && output == Activation::Softmax ? 1 : k;
}

// The half Poisson deviance of one output, a - y z + (y log y - y) with
// a = e^z, written as a + y (log y - 1 - z) so that no part overflows on its
// own when a large y is fitted well (log y near z).
template <class T>
inline double poisson_term(T a, T y, T z) {
  const double yd = y;
  return yd > 0 ? static_cast<double>(a) + yd * (std::log(yd) - 1.0 - static_cast<double>(z))
                : static_cast<double>(a);
}

// scikit-learn's log_loss on the loss terms of cross_entropy (see
// FitOptions::clip_log_loss): each term, -log p of a row's class after softmax
// or of an output's 0 or 1 after sigmoid, clamped to [-log(1 - eps), -log(eps)]
// (eps: T's machine epsilon), as if each probability were clipped to
// [eps, 1 - eps] first. For one-hot (or 0/1) targets, which the estimators
// give, that is scikit-learn's number; the gradient is not changed.
template <class T>
void clip_log_loss_terms(MatrixView<double> terms) {
  const double eps = std::numeric_limits<T>::epsilon();
  const double low = -std::log1p(-eps), high = -std::log(eps);
  for (std::size_t i = 0; i < terms.rows; ++i) {
    double* term = terms.row(i);
    for (std::size_t j = 0; j < terms.cols; ++j) term[j] = std::min(std::max(term[j], low), high);
  }
}

// Writes dZ (n, k) = scale * dLoss/dZ (scale: 1 for sum, 1/n for mean) and the
// rows' loss terms (n, loss_terms_per_row), unweighted and unscaled, for
// loss_sum. A = f(Z), Y and dZ are (n, k); Z is read only when
// loss_needs_logits(loss). With `weight` (n), row i's dZ counts weight[i]
// times (before `scale`). Each row is computed from that row alone, so a batch
// may go through in blocks of rows, on any thread, without changing a bit.
template <class T>
void loss_forward_backward(Loss loss, Activation output, MatrixView<T> dZ,
                           MatrixView<double> terms, ConstMatrixView<T> Z, ConstMatrixView<T> A,
                           ConstMatrixView<T> Y, T scale, const T* weight = nullptr) {
  for (std::size_t i = 0; i < A.rows; ++i) {
    const T* a = A.row(i);
    const T* y = Y.row(i);
    T* d = dZ.row(i);
    double* term = terms.row(i);
    const std::size_t k = A.cols;
    if (loss == Loss::Mse) {
      for (std::size_t j = 0; j < k; ++j) {
        d[j] = a[j] - y[j];
        term[j] = 0.5 * static_cast<double>(d[j]) * static_cast<double>(d[j]);
      }
    } else if (loss == Loss::Poisson) {  // dZ = a - y
      const T* z = Z.row(i);
      for (std::size_t j = 0; j < k; ++j) {
        term[j] = poisson_term(a[j], y[j], z[j]);
        d[j] = a[j] - y[j];
      }
    } else if (output == Activation::Softmax) {
      // -sum_j y_j log a_j = sum_j y_j (lse(z) - z_j); dZ = a * sum(y) - y
      const T* z = Z.row(i);
      T top = z[0];
      for (std::size_t j = 1; j < k; ++j) top = std::max(top, z[j]);
      double sum_exp = 0, sum_y = 0, sum_yz = 0;
      for (std::size_t j = 0; j < k; ++j) {
        sum_exp += std::exp(static_cast<double>(z[j] - top));
        sum_y += y[j];
        sum_yz += static_cast<double>(y[j]) * static_cast<double>(z[j] - top);
      }
      term[0] = sum_y * std::log(sum_exp) - sum_yz;
      for (std::size_t j = 0; j < k; ++j) d[j] = a[j] * static_cast<T>(sum_y) - y[j];
    } else {  // sigmoid: per element, log(1 + e^z) - y z, written stably
      const T* z = Z.row(i);
      for (std::size_t j = 0; j < k; ++j) {
        const double zj = z[j];
        term[j] = std::max(zj, 0.0) - y[j] * zj + std::log1p(std::exp(-std::abs(zj)));
        d[j] = a[j] - y[j];
      }
    }
  }
  if (loss == Loss::Mse) activation_backward(output, dZ, A);
  if (weight != nullptr) {
    for (std::size_t i = 0; i < dZ.rows; ++i) {
      const T factor = weight[i] * scale;
      for (std::size_t j = 0; j < dZ.cols; ++j) dZ(i, j) *= factor;
    }
  } else if (scale != T(1)) {
    for (std::size_t i = 0; i < dZ.rows; ++i)
      for (std::size_t j = 0; j < dZ.cols; ++j) dZ(i, j) *= scale;
  }
}

// The sum of count values in a fixed order: eight running sums (value e goes
// to sum e % 8, so the loop vectorises and no chain of additions is longer
// than count / 8), then those added pairwise.
inline double sum_in_eights(const double* x, std::size_t count) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t e = 0;
  for (; e + 8 <= count; e += 8)
    for (std::size_t q = 0; q < 8; ++q) lane[q] += x[e + q];
  for (std::size_t q = 0; e + q < count; ++q) lane[q] += x[e + q];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// The loss of a batch from its rows' terms (n, per row), times `scale`: all
// terms by sum_in_eights (in row order, when not contiguous); with `weight`
// (n), each row's terms are added apart, and the row's sum is added times its
// weight. A fixed order, so the loss does not depend on how the rows were
// split for loss_forward_backward.
template <class T>
double loss_sum(ConstMatrixView<double> terms, T scale, const T* weight = nullptr) {
  if (weight == nullptr && terms.stride == terms.cols)
    return sum_in_eights(terms.data, terms.rows * terms.cols) * static_cast<double>(scale);
  double total = 0;
  for (std::size_t i = 0; i < terms.rows; ++i) {
    const double* term = terms.row(i);
    if (weight == nullptr) {
      for (std::size_t j = 0; j < terms.cols; ++j) total += term[j];
    } else {
      double row_total = 0;
      for (std::size_t j = 0; j < terms.cols; ++j) row_total += term[j];
      total += static_cast<double>(weight[i]) * row_total;
    }
  }
  return total * static_cast<double>(scale);
}

}  // namespace fastmlp
