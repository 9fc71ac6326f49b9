// Standardised features and their folding into layer 0 (scaling.hpp).
#include <fastmlp/scaling.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastmlp {

ColumnScaling standardize_columns(MatrixView<double> X) {
  const std::size_t n = X.rows, d = X.cols;
  if (n == 0) throw std::invalid_argument("standardize_columns: no rows");
  ColumnScaling s;
  s.mean.assign(d, 0.0);
  s.scale.assign(d, 1.0);
  // Two passes (mean, then squared deviations): no cancellation in the variance.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) s.mean[j] += X(i, j);
  for (std::size_t j = 0; j < d; ++j) s.mean[j] /= static_cast<double>(n);
  std::vector<double> var(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const double dev = X(i, j) - s.mean[j];
      var[j] += dev * dev;
    }
  const double eps = std::numeric_limits<double>::epsilon(), rows = static_cast<double>(n);
  for (std::size_t j = 0; j < d; ++j) {
    var[j] /= rows;
    if (!std::isfinite(var[j]))
      throw std::invalid_argument("standardize_columns: column " + std::to_string(j + 1) +
                                  "'s values are too large to standardise");
    // A constant column's variance is rounding noise, bounded by this (the
    // bound StandardScaler uses); dividing by its root would blow the noise up.
    const double noise = rows * eps * var[j] + (rows * s.mean[j] * eps) * (rows * s.mean[j] * eps);
    if (var[j] > noise) s.scale[j] = std::sqrt(var[j]);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) X(i, j) = (X(i, j) - s.mean[j]) / s.scale[j];
  return s;
}

template <class T>
void fold_input_scaling(Network<T>& net, const ColumnScaling& scaling) {
  const std::size_t in = net.n_inputs(), out = net.sizes()[1];
  if (scaling.mean.size() != in || scaling.scale.size() != in)
    throw std::invalid_argument("fold_input_scaling: a mean and a scale per input (" + std::to_string(in) +
                                "), got " + std::to_string(scaling.mean.size()) + " and " +
                                std::to_string(scaling.scale.size()));
  MatrixView<T> W = net.weight(0);
  T* b = net.bias(0);
  std::vector<T> W_new(in * out), b_new(out);
  for (std::size_t k = 0; k < out; ++k) {
    double shift = static_cast<double>(b[k]);
    for (std::size_t j = 0; j < in; ++j) shift -= scaling.mean[j] / scaling.scale[j] * static_cast<double>(W(j, k));
    b_new[k] = static_cast<T>(shift);
    if (!std::isfinite(b_new[k]))
      throw std::invalid_argument("fold_input_scaling: a folded bias is out of range (features too large to scale)");
  }
  for (std::size_t j = 0; j < in; ++j)
    for (std::size_t k = 0; k < out; ++k) {
      W_new[j * out + k] = static_cast<T>(static_cast<double>(W(j, k)) / scaling.scale[j]);
      if (!std::isfinite(W_new[j * out + k]))
        throw std::invalid_argument("fold_input_scaling: a folded weight is out of range (feature column " +
                                    std::to_string(j + 1) + "'s spread is too small to scale)");
    }
  for (std::size_t j = 0; j < in; ++j)
    for (std::size_t k = 0; k < out; ++k) W(j, k) = W_new[j * out + k];
  for (std::size_t k = 0; k < out; ++k) b[k] = b_new[k];
}

template void fold_input_scaling(Network<float>&, const ColumnScaling&);
template void fold_input_scaling(Network<double>&, const ColumnScaling&);

}  // namespace fastmlp
