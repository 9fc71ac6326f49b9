// The validation split, the validation figures (loss, and accuracy or R^2)
// and the class weights. Not when they run: the epoch loop (train.cpp)
// decides that; nothing here changes a network's parameters.
#include <fastmlp/validation.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include <fastmlp/metrics.hpp>
#include <fastmlp/rng.hpp>

namespace fastmlp {

namespace {
// Whether the output layer's activation makes the network a classifier.
bool classifies(Activation output) {
  return output == Activation::Softmax || output == Activation::Sigmoid;
}
}  // namespace

const char* validation_score_name(Activation output) {
  return classifies(output) ? "accuracy" : "r2";
}

// --- the split --------------------------------------------------------------------------

RowSplit validation_split(std::size_t n, double fraction, std::uint64_t seed) {
  if (!(fraction > 0 && fraction < 1))
    throw std::invalid_argument("validation_fraction must be between 0 and 1 (exclusive); got " +
                                number_text(fraction));
  const std::size_t n_val =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n))));
  if (n_val >= n)
    throw std::invalid_argument("validation_fraction " + number_text(fraction) + " of " +
                                std::to_string(n) + " rows leaves no rows to train on");
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t(0));
  Rng rng(seed ^ 0x5851f42d4c957f2dULL);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  RowSplit split;
  split.validation.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

// --- class weights ----------------------------------------------------------------------

template <class T>
std::vector<T> class_weights(ConstMatrixView<T> Y, const std::vector<double>& per_class) {
  const std::size_t n = Y.rows, n_classes = std::max<std::size_t>(Y.cols, 2);
  std::vector<std::size_t> label(n);
  for (std::size_t i = 0; i < n; ++i)
    if ((label[i] = class_of_row(Y.row(i), Y.cols)) == kNoClass)
      throw std::invalid_argument("Y row " + std::to_string(i) + " holds a value that is not finite");
  std::vector<double> table = per_class;
  if (table.empty()) {
    std::vector<std::size_t> count(n_classes, 0);
    for (const std::size_t c : label) ++count[c];
    const auto present = static_cast<double>(
        std::count_if(count.begin(), count.end(), [](std::size_t k) { return k > 0; }));
    table.assign(n_classes, 1.0);
    for (std::size_t c = 0; c < n_classes; ++c)
      if (count[c] > 0) table[c] = static_cast<double>(n) / (present * static_cast<double>(count[c]));
  } else if (table.size() != n_classes) {
    throw std::invalid_argument("class weights: " + std::to_string(table.size()) + " weights for " +
                                std::to_string(n_classes) + " classes");
  }
  for (std::size_t c = 0; c < n_classes; ++c)
    if (!(table[c] >= 0) || !std::isfinite(table[c]))
      throw std::invalid_argument("class_weight[" + std::to_string(c) +
                                  "] must be finite and non-negative; got " + std::to_string(table[c]));
  std::vector<T> weight(n);
  for (std::size_t i = 0; i < n; ++i) weight[i] = static_cast<T>(table[label[i]]);
  return weight;
}

// --- the validator ----------------------------------------------------------------------

template <class T>
Validator<T>::Validator(const Network<T>& net, InputView<T> X, InputView<T> Y,
                        const CsrView<T>& X_csr)
    : X_(X), Y_(Y), X_csr_(X_csr), ws_(net, X.rows, false, false, !X_csr.empty()),
      accuracy_(classifies(net.activation(net.n_layers() - 1))),
      ss_tot_(Y.cols, 0.0), ss_res_(Y.cols, 0.0) {
  if (accuracy_) return;
  // R^2's denominators: each output's sum of squares about its mean
  for (std::size_t j = 0; j < Y.cols; ++j) {
    double mean = 0;
    for (std::size_t i = 0; i < Y.rows; ++i) mean += Y(i, j);
    mean /= static_cast<double>(Y.rows);
    for (std::size_t i = 0; i < Y.rows; ++i)
      ss_tot_[j] += (Y(i, j) - mean) * (Y(i, j) - mean);
  }
}

template <class T>
std::pair<double, double> Validator<T>::evaluate(const Network<T>& net, ThreadPool* pool) {
  const double loss = batch_loss(net, Batch<T>{X_, Y_, nullptr, nullptr, 0, X_.rows, X_csr_}, ws_, pool);
  const ConstMatrixView<T> A = ws_.activations.back().view();
  return {loss, accuracy_ ? accuracy(A) : r2(A)};
}

template <class T>
double Validator<T>::accuracy(ConstMatrixView<T> A) const {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < A.rows; ++i) {
    const std::size_t predicted = class_of_row(A.row(i), A.cols);  // a diverged row is wrong
    correct += predicted != kNoClass && predicted == class_of_row(Y_.row(i), Y_.cols);
  }
  return static_cast<double>(correct) / static_cast<double>(A.rows);
}

// scikit-learn's r2_score: 1 - SS_res / SS_tot per output (1 for a constant
// output predicted exactly, else 0 for one), averaged over the outputs.
template <class T>
double Validator<T>::r2(ConstMatrixView<T> A) {
  std::fill(ss_res_.begin(), ss_res_.end(), 0.0);
  for (std::size_t i = 0; i < A.rows; ++i)
    for (std::size_t j = 0; j < A.cols; ++j) {
      const double e = static_cast<double>(Y_(i, j)) - static_cast<double>(A(i, j));
      ss_res_[j] += e * e;
    }
  double sum = 0;
  for (std::size_t j = 0; j < A.cols; ++j)
    sum += ss_tot_[j] != 0 ? 1 - ss_res_[j] / ss_tot_[j] : (ss_res_[j] == 0 ? 1.0 : 0.0);
  return sum / static_cast<double>(A.cols);
}

// --- instantiations ---------------------------------------------------------------------

template std::vector<float> class_weights<float>(ConstMatrixView<float>, const std::vector<double>&);
template std::vector<double> class_weights<double>(ConstMatrixView<double>, const std::vector<double>&);
template class Validator<float>;
template class Validator<double>;

}  // namespace fastmlp
