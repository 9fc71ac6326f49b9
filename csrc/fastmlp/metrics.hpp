// Evaluation figures computed from outputs and one-hot (or scored) targets
// (accuracy; R^2, RMSE and MAE for regression, and the mean Poisson deviance
// for a Poisson regression), and the one rule that turns a
// row of outputs into a class. Every place that
// needs a class (metrics, predict --classes, eval, validation accuracy, class
// weights, the Python package and its estimators) calls class_of_row.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

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

// A single output above this is class 1, at or below it class 0.
inline constexpr double kBinaryThreshold = 0.5;

// What class_of_row returns for a row holding NaN or an infinity: no class.
inline constexpr std::size_t kNoClass = std::numeric_limits<std::size_t>::max();

// The class of a row of k > 0 outputs (or target columns): with k > 1, the
// index of the largest (the first on ties); with k == 1, a binary class, 1
// where the value is > 0.5 and 0 otherwise, whatever the output activation.
// That is scikit-learn's rule (LabelBinarizer.inverse_transform), so our
// estimators and theirs agree at exactly 0.5. kNoClass if a value is not finite.
template <class T>
std::size_t class_of_row(const T* row, std::size_t k) {
  for (std::size_t j = 0; j < k; ++j)
    if (!std::isfinite(row[j])) return kNoClass;
  if (k == 1) return static_cast<double>(row[0]) > kBinaryThreshold ? 1 : 0;
  return argmax_row(ConstMatrixView<T>(row, 1, k), 0);
}

// The class of row `row` of k true labels: class_of_row's, refusing what
// would be a guess. std::invalid_argument naming "<what> row <row>" for a value
// that is not finite, a single label outside [0, 1] (a class index such as 2
// is not a binary label), or (k > 1) a row whose largest value is not unique,
// such as an all-zero one-hot row.
template <class T>
std::size_t true_class_of_row(const T* values, std::size_t k, const std::string& what,
                              std::size_t row) {
  const std::size_t c = class_of_row(values, k);
  if (c == kNoClass)
    throw std::invalid_argument(what + " row " + std::to_string(row) +
                                " holds a value that is not finite (NaN or infinite)");
  for (std::size_t j = 0; j < k; ++j)  // a class index such as 2, or a score, is not a label
    if (!(values[j] >= 0 && values[j] <= 1))
      throw std::invalid_argument(what + " row " + std::to_string(row) + " holds " +
                                  std::to_string(static_cast<double>(values[j])) +
                                  (k == 1 ? ", not a binary label from 0 to 1" : ", not a one-hot label from 0 to 1"));
  for (std::size_t j = 0; k > 1 && j < k; ++j)
    if (j != c && !(values[j] < values[c]))
      throw std::invalid_argument(what + " row " + std::to_string(row) +
                                  " has no single largest value, so no class (an all-zero one-hot row?)");
  return c;
}

// The predicted class of row `row` of k outputs: class_of_row's, or
// std::invalid_argument naming "<what> row <row>" when an output is not finite.
template <class T>
std::size_t predicted_class_of_row(const T* values, std::size_t k, const std::string& what,
                                   std::size_t row) {
  const std::size_t c = class_of_row(values, k);
  if (c == kNoClass)
    throw std::invalid_argument(what + " row " + std::to_string(row) +
                                " holds an output that is not finite (NaN or infinite), so no class");
  return c;
}

// The fraction of rows whose predicted class in P is the true class in Y, by
// the two functions above (rows named from 0); P, Y (n, k).
// std::invalid_argument for shapes that differ, no rows (there is no fraction
// of nothing) and the rows those functions refuse.
template <class T, class U>
double accuracy(ConstMatrixView<T> P, ConstMatrixView<U> Y) {
  if (P.rows != Y.rows || P.cols != Y.cols)
    throw std::invalid_argument("accuracy: the predictions are " + std::to_string(P.rows) + " x " +
                                std::to_string(P.cols) + " but the labels " + std::to_string(Y.rows) +
                                " x " + std::to_string(Y.cols));
  if (P.rows == 0) throw std::invalid_argument("accuracy: there are no rows");
  const std::string predictions = "predictions", labels = "labels";
  std::size_t correct = 0;
  for (std::size_t i = 0; i < P.rows; ++i)
    correct += predicted_class_of_row(P.row(i), P.cols, predictions, i) ==
               true_class_of_row(Y.row(i), Y.cols, labels, i);
  return static_cast<double>(correct) / static_cast<double>(P.rows);
}

// --- regression figures -----------------------------------------------------------------

// R^2, RMSE and MAE of predictions against targets, each averaged over the
// outputs as scikit-learn's r2_score, root_mean_squared_error and
// mean_absolute_error do by default ("uniform_average"). An output whose
// targets are all equal scores R^2 1 when predicted exactly, else 0 (as
// r2_score's force_finite). Rows arrive one at a time (streaming); the means
// and sums of squares are Welford's, so a large offset loses no digits.
class RegressionScore {
 public:
  explicit RegressionScore(std::size_t outputs)
      : n_(0), mean_(outputs, 0.0), m2_(outputs, 0.0), ss_res_(outputs, 0.0), abs_(outputs, 0.0) {}

  // One row: `predicted` and `truth`, `outputs` values each.
  template <class T>
  void add(const T* predicted, const double* truth) {
    ++n_;
    for (std::size_t j = 0; j < mean_.size(); ++j) {
      const double y = truth[j], e = y - static_cast<double>(predicted[j]);
      const double d = y - mean_[j];
      mean_[j] += d / static_cast<double>(n_);
      m2_[j] += d * (y - mean_[j]);
      ss_res_[j] += e * e;
      abs_[j] += std::fabs(e);
    }
  }

  std::size_t rows() const { return n_; }

  double r2() const {
    double sum = 0;
    for (std::size_t j = 0; j < mean_.size(); ++j)
      sum += m2_[j] > 0 ? 1 - ss_res_[j] / m2_[j] : (ss_res_[j] == 0 ? 1.0 : 0.0);
    return sum / static_cast<double>(mean_.size());
  }
  double rmse() const {
    double sum = 0;
    for (const double s : ss_res_) sum += std::sqrt(s / static_cast<double>(n_));
    return sum / static_cast<double>(mean_.size());
  }
  double mae() const {
    double sum = 0;
    for (const double a : abs_) sum += a / static_cast<double>(n_);
    return sum / static_cast<double>(mean_.size());
  }

 private:
  std::size_t n_;
  std::vector<double> mean_, m2_, ss_res_, abs_;
};

// The mean Poisson deviance of predictions against targets: 2 (y log(y / p) -
// y + p) per value (2p where y is 0), averaged over the rows, then over the
// outputs, as scikit-learn's mean_poisson_deviance (which takes one output).
// Targets must be >= 0 (counts or rates; callers check, naming the row); a
// prediction of 0 (exp underflowed) for a target above 0 makes it infinite.
class PoissonDeviance {
 public:
  explicit PoissonDeviance(std::size_t outputs) : sum_(outputs, 0.0) {}

  // One row: `predicted` and `truth`, `outputs` values each.
  template <class T>
  void add(const T* predicted, const double* truth) {
    ++n_;
    for (std::size_t j = 0; j < sum_.size(); ++j) {
      const double y = truth[j], p = static_cast<double>(predicted[j]);
      sum_[j] += 2 * ((y > 0 ? y * std::log(y / p) : 0.0) - y + p);
    }
  }

  double mean() const {
    double sum = 0;
    for (const double s : sum_) sum += s / static_cast<double>(n_);
    return sum / static_cast<double>(sum_.size());
  }

 private:
  std::size_t n_ = 0;
  std::vector<double> sum_;
};

}  // namespace fastmlp
