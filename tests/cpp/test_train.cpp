// C++ tests of the epoch loop's inputs and interruption: fit's own
// validation split and class weights against the same fit given the split
// and weighted rows explicitly (as the Python layer and the command line
// prepare them), the chunked parameter gradient against one product per
// layer, and a stop in the middle of a gradient. Bit for bit throughout.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/losses.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>
#include <fastmlp/train.hpp>

#include "check.hpp"

using namespace fastmlp;

namespace {

using check::throws;

template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(T)) == 0;  // memcmp may not see null pointers
}
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && same_bits(a.data(), b.data(), a.size());
}

// n rows of `in` features uniform in [-1, 1) and one-hot targets over `out`
// classes (one column: 0/1), with more rows of class 0 so that balanced
// weights differ from 1; and positive sample weights.
template <class T>
struct Data {
  Matrix<T> X, Y;
  std::vector<T> weight;
  Data(std::size_t n, std::size_t in, std::size_t out, std::uint64_t seed)
      : X(n, in), Y(n, out), weight(n) {
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < in; ++j) X(i, j) = static_cast<T>(2 * rng.uniform() - 1);
      const std::size_t c = rng.below(2) == 0 ? 0 : rng.below(std::max<std::size_t>(out, 2));
      for (std::size_t j = 0; j < out; ++j) Y(i, j) = T(out == 1 ? c == 1 : c == j);
      weight[i] = static_cast<T>(0.25 + rng.uniform());
    }
  }
};

template <class T>
Matrix<T> rows_of(const Matrix<T>& M, const std::vector<std::size_t>& rows) {
  Matrix<T> out(rows.size(), M.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < M.cols(); ++j) out(i, j) = M(rows[i], j);
  return out;
}

template <class T>
Network<T> classifier(std::size_t in, std::size_t out, std::uint64_t seed) {
  Network<T> net({in, 9, out}, Activation::Tanh, out == 1 ? Activation::Sigmoid : Activation::Softmax,
                 Loss::CrossEntropy, Reduction::Mean);
  net.initialize(Init::Glorot, seed);
  return net;
}

// fit with validation_fraction and a class weight setting against fit on
// rows split by validation_split (copied in increasing order), with the
// training rows' sample weights times class_weights of the training rows
// (in T): the same parameters and per-epoch figures, bit for bit.
template <class T>
void test_split_and_class_weights_inside_fit() {
  struct Case {
    std::size_t out;
    bool sample_weight;
    double fraction;
    ClassWeightKind kind;
    std::vector<std::pair<std::size_t, double>> per_class;
  };
  const Case cases[] = {
      {3, false, 0.2, ClassWeightKind::None, {}},
      {3, true, 0.25, ClassWeightKind::None, {}},
      {3, false, 0, ClassWeightKind::Balanced, {}},
      {3, true, 0.3, ClassWeightKind::Balanced, {}},
      {1, true, 0.1, ClassWeightKind::Balanced, {}},
      {3, true, 0.2, ClassWeightKind::PerClass, {{0, 0.5}, {1, 2.0}, {2, 1.25}}},
      {3, false, 0, ClassWeightKind::PerClass, {{1, 3.0}}},  // classes left out weigh 1
      {1, false, 0, ClassWeightKind::PerClass, {{0, 3.0}, {1, 0.5}}},
  };
  for (const Case& c : cases) {
    const Data<T> d(203, 4, c.out, 17);
    FitOptions options;
    options.epochs = 12;
    options.learning_rate = 0.1;
    options.batch_size = 16;
    options.seed = 29;
    options.early_stopping = 4;
    options.optimizer.kind = OptimizerKind::Adam;

    // the rows and weights prepared by hand, as the Python layer does
    std::vector<std::size_t> train(d.X.rows()), validation;
    for (std::size_t i = 0; i < train.size(); ++i) train[i] = i;
    if (c.fraction != 0) {
      const RowSplit split = validation_split(d.X.rows(), c.fraction, options.seed);
      train = split.train;
      validation = split.validation;
    }
    const Matrix<T> X = rows_of(d.X, train), Y = rows_of(d.Y, train);
    const Matrix<T> X_val = rows_of(d.X, validation), Y_val = rows_of(d.Y, validation);
    std::vector<T> weight;
    if (c.sample_weight)
      for (const std::size_t i : train) weight.push_back(d.weight[i]);
    if (c.kind != ClassWeightKind::None) {
      std::vector<double> table;  // balanced when empty
      if (c.kind == ClassWeightKind::PerClass) {
        table.assign(std::max<std::size_t>(c.out, 2), 1.0);
        for (const auto& [index, w] : c.per_class) table[index] = w;
      }
      const std::vector<T> per_row = class_weights<T>(Y.view(), table);
      if (weight.empty()) weight.assign(per_row.size(), T(1));
      for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = weight[i] * per_row[i];
    }
    FitData<T> by_hand;
    by_hand.X = X.view();
    by_hand.Y = Y.view();
    by_hand.X_val = X_val.view();
    by_hand.Y_val = Y_val.view();
    by_hand.sample_weight = weight.empty() ? nullptr : weight.data();
    Network<T> want = classifier<T>(4, c.out, 3);
    Optimizer<T> o1;
    const FitResult r1 = fit(want, by_hand, options, o1);

    // the same, left to fit
    FitData<T> whole;
    whole.X = d.X.view();
    whole.Y = d.Y.view();
    whole.sample_weight = c.sample_weight ? d.weight.data() : nullptr;
    options.validation_fraction = c.fraction;
    options.class_weight.kind = c.kind;
    options.class_weight.per_class = c.per_class;
    Network<T> got = classifier<T>(4, c.out, 3);
    Optimizer<T> o2;
    const FitResult r2 = fit(got, whole, options, o2);

    CHECK(r1.epochs > 0 && r2.epochs == r1.epochs);
    CHECK(same_bits(got.params(), want.params(), want.n_params()));
    CHECK(same_bits(r2.loss, r1.loss));
    CHECK(same_bits(r2.val_loss, r1.val_loss) && same_bits(r2.val_score, r1.val_score));
    CHECK(r2.val_loss.size() == (c.fraction != 0 ? r2.epochs : 0));
    CHECK(r2.best_epoch == r1.best_epoch && r2.early_stopped == r1.early_stopped);
    // the weighting reached the fit: without it the parameters differ
    if (c.kind != ClassWeightKind::None) {
      options.class_weight = ClassWeight{};
      Network<T> unweighted = classifier<T>(4, c.out, 3);
      Optimizer<T> o3;
      fit(unweighted, whole, options, o3);
      CHECK(!same_bits(unweighted.params(), want.params(), want.n_params()));
    }
  }
}

// Bad settings are refused before anything changes.
void test_split_and_class_weight_errors() {
  const Data<double> d(20, 4, 3, 5);
  Network<double> net = classifier<double>(4, 3, 1);
  const std::vector<double> before(net.params(), net.params() + net.n_params());
  FitData<double> data;
  data.X = d.X.view();
  data.Y = d.Y.view();
  auto fit_with = [&](const FitOptions& options) {
    Optimizer<double> optimizer;
    fit(net, data, options, optimizer);
  };
  FitOptions options;
  options.epochs = 3;
  for (const double bad : {-0.5, 1.0, 1.5, std::nan("")}) {
    options.validation_fraction = bad;
    CHECK(throws<std::invalid_argument>([&] { fit_with(options); }, "validation_fraction must be a number in (0, 1)"));
  }
  options.validation_fraction = 0.99;
  CHECK(throws<std::invalid_argument>([&] { fit_with(options); }, "leaves no rows to train on"));
  options.validation_fraction = 0.5;
  data.X_val = d.X.view();
  data.Y_val = d.Y.view();
  CHECK(throws<std::invalid_argument>([&] { fit_with(options); }, "not both"));
  data.X_val = data.Y_val = ConstMatrixView<double>();
  options.validation_fraction = 0;
  options.class_weight.kind = ClassWeightKind::PerClass;
  options.class_weight.per_class = {{3, 1.0}};
  CHECK(throws<std::invalid_argument>([&] { fit_with(options); },
                                      "class_weight's keys must be class indices in [0, 2]; got 3"));
  options.class_weight.per_class = {{1, -1.0}};
  CHECK(throws<std::invalid_argument>([&] { fit_with(options); }, "class_weight[1] must be finite and non-negative"));
  options.class_weight.per_class = {{0, 0.0}, {1, 0.0}, {2, 0.0}};
  CHECK(throws<std::invalid_argument>([&] { fit_with(options); }, "must not be all zero"));
  CHECK(same_bits(net.params(), before.data(), before.size()));
}

// loss_and_gradient on more rows than one chunk of phase 2 (whole GEMM
// k-blocks), over no pool and a pool of 2: the same bits as the layers' dense
// operations on all the rows at once, each dW and db one product or sum.
template <class T>
void test_chunked_gradient_is_one_product() {
  const std::size_t n = 1000;  // chunks of 256 rows for this network's 66563 parameters
  Network<T> trained({64, 256, 192, 3}, Activation::Tanh, Activation::Sigmoid);
  trained.initialize(Init::Glorot, 4);
  const Network<T>& net = trained;
  const Data<T> d(n, 64, 3, 8);
  const std::size_t L = net.n_layers();

  // the reference: forward, the loss's dZ, backward, over all n rows
  std::vector<Matrix<T>> A, dZ;
  for (std::size_t l = 0; l < L; ++l) {
    A.emplace_back(n, net.sizes()[l + 1]);
    dZ.emplace_back(n, net.sizes()[l + 1]);
  }
  auto input = [&](std::size_t l) { return l == 0 ? d.X.view() : ConstMatrixView<T>(A[l - 1].view()); };
  for (std::size_t l = 0; l < L; ++l)
    dense_forward(A[l].view(), input(l), net.weight(l), net.bias(l), net.activation(l));
  Matrix<double> terms(n, 3);
  loss_forward_backward<T>(net.loss(), net.activation(L - 1), dZ[L - 1].view(), terms.view(),
                           ConstMatrixView<T>(), A[L - 1].view(), d.Y.view(), T(1), d.weight.data());
  for (std::size_t l = L - 1; l > 0; --l) {
    dense_backward_input(dZ[l - 1].view(), ConstMatrixView<T>(dZ[l].view()), net.weight(l));
    activation_backward<T>(net.activation(l - 1), dZ[l - 1].view(), A[l - 1].view());
  }
  std::vector<T> want(net.n_params());
  for (std::size_t l = 0; l < L; ++l) {
    dense_backward_weight(MatrixView<T>(want.data() + net.weight_offset(l), net.sizes()[l], net.sizes()[l + 1]),
                          input(l), ConstMatrixView<T>(dZ[l].view()));
    dense_backward_bias(want.data() + net.bias_offset(l), ConstMatrixView<T>(dZ[l].view()));
  }
  CHECK(n > 2 * gemm_detail::KC<T>);

  for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &shared_thread_pool(2)}) {
    Workspace<T> ws(net, n, false);
    loss_and_gradient(net, d.X.view(), d.Y.view(), ws, pool, d.weight.data());
    CHECK(same_bits(ws.grads.data(), want.data(), want.size()));
  }
}

// A stop answered inside a full batch's gradient: the batch is discarded, so
// the network holds the parameters of the epochs completed (the same bits as
// a fit of just those epochs), and the stop comes long before the epoch would
// have ended.
void test_stop_inside_a_gradient() {
  const std::size_t n = 4096;
  const Data<double> d(n, 64, 3, 9);
  auto make = [] {
    Network<double> net({64, 256, 192, 3}, Activation::Tanh, Activation::Sigmoid);
    net.initialize(Init::Glorot, 6);
    return net;
  };
  FitOptions options;
  options.epochs = 1000000;
  options.learning_rate = 1e-4;
  for (const int stop_at : {1, 25}) {
    for (const int threads : {1, 2}) {
      options.threads = threads;
      Network<double> net = make();
      int calls = 0;
      const FitResult r = fit(net, d.X.view(), d.Y.view(), options, [&] { return ++calls == stop_at; });
      CHECK(r.stopped && calls == stop_at && r.loss.size() == r.epochs);
      if (stop_at == 1) CHECK(r.epochs == 0);  // the first check comes inside the first gradient
      Network<double> want = make();
      FitOptions just = options;
      just.epochs = r.epochs;
      fit(want, d.X.view(), d.Y.view(), just);
      CHECK(same_bits(net.params(), want.params(), want.n_params()));
    }
  }
}

}  // namespace

int main() {
  test_split_and_class_weights_inside_fit<double>();
  test_split_and_class_weights_inside_fit<float>();
  test_split_and_class_weight_errors();
  test_chunked_gradient_is_one_product<double>();
  test_chunked_gradient_is_one_product<float>();
  test_stop_inside_a_gradient();
  return check::finish("test_train");
}
