// C++ tests of the fused path for small networks (fused.hpp): its gradient and
// loss against the general path's, bit for bit, over random small shapes,
// every activation and loss, both reductions, float and double, with and
// without sample weights, shuffled rows and several k-blocks; whole fits
// (with l2, and on 1 and 2 threads) the same; and where it must not apply.
// Each comparison also checks which path ran: the fused path leaves the
// workspace's activations untouched, the general path writes them.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <fastmlp/fused.hpp>
#include <fastmlp/gradient.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/train.hpp>

#include "check.hpp"

using namespace fastmlp;

// CHECK with a message: what differed.
#define EXPECT(cond, ...)                                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                          \
      std::fprintf(stderr, "\n");                                 \
      ++check::failures;                                          \
    }                                                             \
  } while (0)

namespace {

template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(T)) == 0;
}

const Activation::Kind kHidden[] = {Activation::Sigmoid, Activation::Tanh, Activation::Relu,
                                    Activation::LeakyRelu, Activation::Identity};

// A network for `loss` on random sizes (each at most `widest`), with an
// output activation that loss accepts, drawn from rng.
template <class T>
Network<T> random_network(Rng& rng, Loss loss, std::size_t widest) {
  const std::size_t layers = 1 + rng.below(3);
  std::vector<std::size_t> sizes;
  for (std::size_t l = 0; l <= layers; ++l) sizes.push_back(1 + rng.below(widest));
  std::vector<Activation> acts;
  for (std::size_t l = 0; l + 1 < layers; ++l) acts.push_back(kHidden[rng.below(5)]);
  Activation out;
  if (loss == Loss::Poisson) {
    out = Activation::Exp;
  } else if (loss == Loss::CrossEntropy) {
    out = sizes.back() > 1 && rng.below(2) ? Activation::Softmax : Activation::Sigmoid;
  } else {
    const Activation::Kind any[] = {Activation::Sigmoid, Activation::Tanh,     Activation::Relu,
                                    Activation::LeakyRelu, Activation::Identity, Activation::Softmax,
                                    Activation::Exp};
    out = any[rng.below(7)];
    if (out == Activation::Softmax && sizes.back() == 1) out = Activation::Sigmoid;
  }
  acts.push_back(out);
  Network<T> net(sizes, acts, loss, rng.below(2) ? Reduction::Sum : Reduction::Mean,
                 0.01 + 0.2 * rng.uniform());
  net.initialize(rng.below(2) ? Init::Glorot : Init::He, rng.next());
  return net;
}

// Random inputs in [-2, 2) and targets the loss accepts.
template <class T>
void random_data(Rng& rng, const Network<T>& net, std::size_t n, Matrix<T>& X, Matrix<T>& Y,
                 std::vector<T>& w) {
  X = Matrix<T>(n, net.n_inputs());
  Y = Matrix<T>(n, net.n_outputs());
  w.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < net.n_inputs(); ++j) X(i, j) = static_cast<T>(4 * rng.uniform() - 2);
    const std::size_t hot = rng.below(net.n_outputs());
    for (std::size_t j = 0; j < net.n_outputs(); ++j)
      Y(i, j) = net.loss() == Loss::Mse ? static_cast<T>(rng.uniform())
                : net.loss() == Loss::Poisson ? static_cast<T>(rng.below(4))
                                              : T(j == hot);
    w[i] = static_cast<T>(0.25 + 2 * rng.uniform());
  }
}

// One batch's loss and gradient under `mode`, and whether the general path
// wrote the workspace's activations (the fused path does not).
template <class T>
struct Result {
  double loss;
  std::vector<T> grads;
  bool general;
};

template <class T>
Result<T> gradient_under(FusedMode mode, const Network<T>& net, const Batch<T>& b) {
  set_fused_mode(mode);
  Workspace<T> ws(net, b.rows, b.order != nullptr);
  Matrix<T>& A = ws.activations[0];
  for (std::size_t i = 0; i < A.rows() * A.cols(); ++i)
    A.view().data[i] = std::numeric_limits<T>::quiet_NaN();
  StopFlag never;
  Result<T> r;
  r.loss = batch_gradient(net, b, ws, nullptr, never);
  r.grads.assign(ws.grads.data(), ws.grads.data() + net.n_params());
  r.general = !std::isnan(A.view().data[0]);
  set_fused_mode(FusedMode::Auto);
  return r;
}

// The fused path against the general path on random networks and batches.
template <class T>
void test_batches_bit_for_bit(std::size_t widest, int cases) {
  Rng rng(sizeof(T) * 1000 + widest);
  const Loss losses[] = {Loss::Mse, Loss::CrossEntropy, Loss::Poisson};
  const std::size_t row_counts[] = {1, 3, 8, 9, 120, 257, 600};
  int compared = 0;
  for (int c = 0; c < cases; ++c) {
    const Network<T> net = random_network<T>(rng, losses[c % 3], widest);
    const std::size_t n = row_counts[rng.below(7)];
    Matrix<T> X, Y;
    std::vector<T> w;
    random_data(rng, net, n, X, Y, w);
    // a batch of the rows: all in order, or a shuffled part of them
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    const bool shuffled = rng.below(2) == 1, weighted = rng.below(2) == 1;
    const std::size_t first = shuffled ? rng.below(n) : 0;
    Batch<T> b{ConstMatrixView<T>(X.view()), ConstMatrixView<T>(Y.view()),
               weighted ? w.data() : nullptr, shuffled ? order.data() : nullptr, first, n - first};
    // the widest random networks may exceed the weights the kernel holds in L1
    if (widest > 8 && !fused_applies(net, b)) continue;
    ++compared;
    EXPECT(fused_applies(net, b), "case %d: the fused path should apply", c);
    const Result<T> general = gradient_under(FusedMode::Off, net, b);
    const Result<T> fused = gradient_under(FusedMode::On, net, b);
    EXPECT(general.general && !fused.general, "case %d: the forced paths did not run", c);
    std::string shape;
    for (std::size_t s : net.sizes()) shape += std::to_string(s) + " ";
    EXPECT(same_bits(&general.loss, &fused.loss, 1), "case %d (%s, loss %s, %zu rows): loss %.17g vs %.17g",
          c, shape.c_str(), loss_name(net.loss()), b.rows, general.loss, fused.loss);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < net.n_params(); ++i)
      differ += !same_bits(&general.grads[i], &fused.grads[i], 1);
    EXPECT(differ == 0, "case %d (%s, loss %s, output %s, %zu rows, %s, %s): %zu of %zu gradients differ",
          c, shape.c_str(), loss_name(net.loss()),
          activation_name(net.activation(net.n_layers() - 1)), b.rows,
          shuffled ? "shuffled" : "in order", weighted ? "weighted" : "unweighted", differ,
          net.n_params());
  }
  EXPECT(compared >= cases / 2, "only %d of %d random networks were fused", compared, cases);
}

// Whole fits: the article's network and a deeper one, mini-batches, l2 and
// momentum, fused (Auto, on 1 and 2 threads) against the general path (Off).
template <class T>
void test_fits_bit_for_bit() {
  Rng rng(7);
  const auto network = [] {
    Network<T> net({4, 7, 6, 3}, Activation::Tanh, Activation::Softmax, Loss::CrossEntropy,
                   Reduction::Mean);
    net.initialize(Init::Glorot, 5);
    return net;
  };
  Matrix<T> X, Y;
  std::vector<T> w;
  random_data(rng, network(), 150, X, Y, w);
  FitOptions options;
  options.epochs = 40;
  options.batch_size = 32;
  options.l2 = 1e-3;
  options.learning_rate = 0.1;
  options.optimizer.kind = OptimizerKind::Momentum;
  std::vector<std::vector<T>> params;
  std::vector<std::vector<double>> losses;
  const FusedMode modes[] = {FusedMode::Off, FusedMode::Auto, FusedMode::Auto};
  for (int run = 0; run < 3; ++run) {
    set_fused_mode(modes[run]);
    options.threads = run == 2 ? 2 : 1;
    Network<T> net = network();
    FitData<T> data;
    data.X = X.view();
    data.Y = Y.view();
    data.sample_weight = w.data();
    Optimizer<T> optimizer;
    const FitResult result = fit(net, data, options, optimizer);
    params.emplace_back(net.params(), net.params() + net.n_params());
    losses.push_back(result.loss);
  }
  set_fused_mode(FusedMode::Auto);
  for (int run = 1; run < 3; ++run) {
    EXPECT(same_bits(params[0].data(), params[run].data(), params[0].size()),
          "fit %d: parameters differ from the general path's", run);
    EXPECT(same_bits(losses[0].data(), losses[run].data(), losses[0].size()),
          "fit %d: losses differ from the general path's", run);
  }
}

// Where the fused path must not apply: a layer too wide, dropout, a sparse
// input; and the mode's effect on a batch that the general path would thread.
void test_where_it_applies() {
  Matrix<double> X(4, 3), Y(4, 2);
  const Batch<double> plain{ConstMatrixView<double>(X.view()), ConstMatrixView<double>(Y.view()),
                            nullptr, nullptr, 0, 4};
  EXPECT(fused_applies(Network<double>({3, kFusedMaxWidth, 2}, Activation::Relu, Activation::Sigmoid), plain),
        "a layer of kFusedMaxWidth units should be fused");
  EXPECT(!fused_applies(Network<double>({3, kFusedMaxWidth + 1, 2}, Activation::Relu, Activation::Sigmoid), plain),
        "a layer wider than kFusedMaxWidth should not be fused");
  std::vector<std::size_t> deep(kFusedMaxLayers + 2, 2);
  deep.front() = 3;
  EXPECT(!fused_applies(Network<double>(deep, Activation::Relu, Activation::Sigmoid), plain),
        "more than kFusedMaxLayers layers should not be fused");
  const Network<double> net({3, 5, 2}, Activation::Relu, Activation::Sigmoid);
  Batch<double> dropping = plain;
  const DropoutKey key{1, 0};
  dropping.dropout = &key;
  EXPECT(!fused_applies(net, dropping), "dropout should not be fused");
  EXPECT(fused_chosen(net, plain, false), "Auto should fuse a small batch");
  EXPECT(!fused_chosen(net, plain, true), "Auto should leave a threaded batch to the general path");
  set_fused_mode(FusedMode::On);
  EXPECT(fused_chosen(net, plain, true), "On should fuse a threaded batch");
  set_fused_mode(FusedMode::Off);
  EXPECT(!fused_chosen(net, plain, false), "Off should never fuse");
  set_fused_mode(FusedMode::Auto);
}

}  // namespace

int main() {
  test_where_it_applies();
  test_batches_bit_for_bit<double>(6, 300);
  test_batches_bit_for_bit<float>(6, 300);
  test_batches_bit_for_bit<double>(kFusedMaxWidth, 60);
  test_batches_bit_for_bit<float>(kFusedMaxWidth, 60);
  test_fits_bit_for_bit<double>();
  test_fits_bit_for_bit<float>();
  return check::finish("test_fused");
}
