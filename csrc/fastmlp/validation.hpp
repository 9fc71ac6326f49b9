// What a fit holds out and how it weighs its rows: the seeded validation
// split, the validation figures (loss and accuracy or R^2) a fit records after
// each epoch, and rows' weights from their classes.
//
// Not the epoch loop (train.hpp), which decides when these run; nothing here
// changes a network's parameters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <fastmlp/gradient.hpp>
#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/options.hpp>

namespace fastmlp {

// The validation figure besides the loss: "accuracy" (outputs and targets of
// the same class, by class_of_row in metrics.hpp) after a
// softmax or sigmoid output layer, "r2" (the coefficient of determination,
// averaged over the outputs as scikit-learn's r2_score) after any other.
const char* validation_score_name(Activation output);

// A seeded split of n rows: round(fraction * n) rows (at least 1) for
// validation, the rest for training, each list in increasing order; the rows
// are drawn by a Fisher-Yates shuffle from Rng(seed ^ 0x5851f42d4c957f2d).
// std::invalid_argument unless 0 < fraction < 1 and both parts have rows.
struct RowSplit {
  std::vector<std::size_t> train, validation;
};
RowSplit validation_split(std::size_t n, double fraction, std::uint64_t seed);


// Each row's weight from its class, for a fit's sample weights. A row's
// class is class_of_row's (metrics.hpp) for its Y row; there are
// max(Y.cols, 2) classes.
// `per_class` holds one weight per class; empty, the weights are
// scikit-learn's "balanced": n / (classes present * count[class]) over the
// classes present in Y. std::invalid_argument for a per_class of another
// length or with a weight that is negative or not finite.
template <class T>
std::vector<T> class_weights(ConstMatrixView<T> Y, const std::vector<double>& per_class = {});

// The validation loss and score of a network on fixed rows, with every
// buffer made up front (evaluating allocates nothing).
template <class T>
class Validator {
 public:
  // With X_csr, X is that CSR matrix (X holds its shape only).
  Validator(const Network<T>& net, InputView<T> X, InputView<T> Y, const CsrView<T>& X_csr = {});

  // (loss, score) of `net` now: the loss under its reduction, unweighted,
  // and validation_score_name's figure.
  std::pair<double, double> evaluate(const Network<T>& net, ThreadPool* pool);

 private:
  double accuracy(ConstMatrixView<T> A) const;
  double r2(ConstMatrixView<T> A);

  ConstMatrixView<T> X_, Y_;
  CsrView<T> X_csr_;
  Workspace<T> ws_;
  bool accuracy_;
  std::vector<double> ss_tot_, ss_res_;  // R^2's sums of squares, per output
};

}  // namespace fastmlp
