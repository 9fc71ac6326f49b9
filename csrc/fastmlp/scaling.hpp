// Standardised input features, and their folding into a network's first layer.
//
// A network trained on standardised features (x - mean) / scale answers raw
// features once the scaling is folded into its first dense layer, so a saved
// model needs no separate scaler. Not a general preprocessing library: one
// per-column affine map, computed as scikit-learn's StandardScaler computes it.
#pragma once

#include <vector>

#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>

namespace fastmlp {

// Each column's mean and scale (population standard deviation); a column whose
// variance is zero up to rounding gets scale 1, as StandardScaler's does.
struct ColumnScaling {
  std::vector<double> mean, scale;
};

// The scaling of X's (n, d) columns (n >= 1, values finite), then X standardised
// in place: X(i, j) = (X(i, j) - mean[j]) / scale[j].
ColumnScaling standardize_columns(MatrixView<double> X);

// Folds the scaling into layer 0 (computed in double, rounded to T):
// W' = diag(1/scale) W, b' = b - (mean/scale)^T W, so that `net` on raw rows
// gives what it gave on standardised ones. std::invalid_argument when the
// sizes disagree with the inputs, or a folded parameter would not be finite
// (a nearly constant column of tiny values, say); `net` is then unchanged.
template <class T>
void fold_input_scaling(Network<T>& net, const ColumnScaling& scaling);

}  // namespace fastmlp
