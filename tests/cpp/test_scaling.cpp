// C++ tests of scaling.hpp: column statistics against closed forms, and the
// folded network against the unfolded one on standardised rows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <fastmlp/network.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/scaling.hpp>

#include "check.hpp"

using namespace fastmlp;

namespace {

bool close(double a, double b, double rtol, double atol = 0) {
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

void test_statistics() {
  // column 0: 1, 2, 3, 4 (mean 2.5, population variance 1.25); column 1 constant
  // 0.1, whose computed mean and variance carry rounding noise; column 2: -3, 3.
  Matrix<double> X(4, 3);
  const double col0[] = {1, 2, 3, 4}, col2[] = {-3, 3, -3, 3};
  for (std::size_t i = 0; i < 4; ++i) {
    X(i, 0) = col0[i];
    X(i, 1) = 0.1;
    X(i, 2) = col2[i];
  }
  const ColumnScaling s = standardize_columns(X.view());
  CHECK(close(s.mean[0], 2.5, 1e-15) && close(s.scale[0], std::sqrt(1.25), 1e-15));
  CHECK(close(s.mean[1], 0.1, 1e-15) && s.scale[1] == 1.0);
  CHECK(s.mean[2] == 0.0 && close(s.scale[2], 3.0, 1e-15));
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(close(X(i, 0), (col0[i] - 2.5) / std::sqrt(1.25), 1e-15));
    CHECK(std::isfinite(X(i, 1)) && std::fabs(X(i, 1)) < 1e-15);
    CHECK(close(X(i, 2), col2[i] / 3.0, 1e-15));
  }
  Matrix<double> huge(2, 1);
  huge(0, 0) = 1e300;
  huge(1, 0) = -1e300;
  CHECK(check::throws<std::invalid_argument>([&] { standardize_columns(huge.view()); }, "too large"));
}

// The folded network on raw rows against the trained one on standardised rows.
// `far`: the last column's offset in units of its spread; float32 raw rows
// hold such a column only to about far x 6e-8 of its spread, whatever folding does.
template <class T>
void test_fold(const char* name, double rtol, double far) {
  const std::size_t n = 50, in = 4;
  Matrix<double> raw(n, in), standard(n, in);
  Rng rng(7);
  const double offset[] = {5.8, -300.0, 0.0, far}, spread[] = {0.8, 20.0, 1e-3, 1.0};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < in; ++j) standard(i, j) = raw(i, j) = offset[j] + spread[j] * (2 * rng.uniform() - 1);
  const ColumnScaling s = standardize_columns(standard.view());
  Network<T> net({in, 6, 3}, Activation::Sigmoid, Activation::Sigmoid);
  net.initialize(Init::Glorot, 3);
  Matrix<T> Xs(n, in), Xr(n, in), before(n, 3), after(n, 3);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < in; ++j) {
      Xs(i, j) = static_cast<T>(standard(i, j));
      Xr(i, j) = static_cast<T>(raw(i, j));
    }
  net.predict(Xs.view(), before.view());
  fold_input_scaling(net, s);
  net.predict(Xr.view(), after.view());
  double worst = 0;  // the largest relative difference
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < 3; ++k)
      worst = std::max(worst, std::fabs(double(after(i, k)) - double(before(i, k))) / std::fabs(double(before(i, k))));
  if (!(worst <= rtol)) std::fprintf(stderr, "  %s: folded vs unfolded: relative difference %g\n", name, worst);
  CHECK(worst <= rtol);
  // the first layer really changed, the second did not
  CHECK(net.weight(0)(0, 0) != 0 && std::isfinite(static_cast<double>(net.bias(0)[0])));
}

void test_fold_errors() {
  Network<float> net({2, 3, 1}, Activation::Sigmoid, Activation::Sigmoid);
  net.initialize(Init::Uniform, 1);
  const std::vector<float> params(net.params(), net.params() + net.n_params());
  CHECK(check::throws<std::invalid_argument>([&] { fold_input_scaling(net, ColumnScaling{{0}, {1}}); },
                                             "a mean and a scale per input"));
  // a spread of 1e-60 folds into weights of ~1e60: out of float32's range
  CHECK(check::throws<std::invalid_argument>(
      [&] { fold_input_scaling(net, ColumnScaling{{0, 0}, {1, 1e-60}}); }, "too small to scale"));
  CHECK(std::vector<float>(net.params(), net.params() + net.n_params()) == params);  // unchanged
}

}  // namespace

int main() {
  test_statistics();
  test_fold<double>("float64", 1e-12, 1e4);
  test_fold<float>("float32", 1e-5, 10);
  test_fold_errors();
  return check::finish("test_scaling");
}
