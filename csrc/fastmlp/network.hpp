// The network: dense layers, their forward/backward pair, and the parameters.
//
// Dimension letters: n samples, in/out a layer's input/output units. X is
// (n, in), W is (in, out), b is (out), Z = X W + b and A = f(Z) are (n, out).
// All parameters live in one flat buffer (layer by layer, W then b) that
// weight()/bias() view into and the optimiser walks. No training loop here:
// that is train.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fastmlp/activations.hpp>
#include <fastmlp/gemm.hpp>
#include <fastmlp/losses.hpp>
#include <fastmlp/matrix.hpp>

namespace fastmlp {

class ThreadPool;

// --- one dense layer ------------------------------------------------------------

// A = f(X W + b). A is (n, out), X (n, in), W (in, out), b (out). With a pool,
// a large product is split over it (the same bits either way, see gemm.hpp).
template <class T>
void dense_forward(MatrixView<T> A, ConstMatrixView<T> X, ConstMatrixView<T> W, const T* b,
                   Activation f, ThreadPool* pool = nullptr);

// The backward pass from dZ (n, out), the gradient at Z = X W + b, in three
// parts. Row i of dX depends on row i of dZ alone; each element of dW and db
// sums over all n rows, in row order.
// dX (n, in) = dZ W^T, overwritten: the gradient flowing to the layer below
// (its product split over `pool` as dense_forward's).
template <class T>
void dense_backward_input(MatrixView<T> dX, ConstMatrixView<T> dZ, ConstMatrixView<T> W,
                          ThreadPool* pool = nullptr);

// dW (in, out) = X^T dZ, overwritten; X is the layer's input (n, in). With
// `accumulate`, dW += X^T dZ: when the rows come in chunks of whole GEMM
// k-blocks (gemm.hpp), the chunks give the bits of one product.
template <class T>
void dense_backward_weight(MatrixView<T> dW, ConstMatrixView<T> X, ConstMatrixView<T> dZ,
                           bool accumulate = false);

// db (out) = the column sums of dZ, overwritten; with `accumulate`, added to
// db, continuing each sum row by row (chunks of rows give one sum's bits).
template <class T>
void dense_backward_bias(T* db, ConstMatrixView<T> dZ, bool accumulate = false);

// --- initialisation ---------------------------------------------------------------

// uniform: every weight and bias uniform in [0, 1) (the article's).
// glorot: W uniform in +-sqrt(6 / (in + out)), b = 0 (for sigmoid, tanh).
// he: W uniform in +-sqrt(6 / in), b = 0 (for relu).
// glorot_normal, he_normal: W normal with mean 0 and standard deviation
// sqrt(2 / (in + out)) and sqrt(2 / in) (not truncated), b = 0.
// sklearn: scikit-learn's MLP: W and b uniform in +-sqrt(f / (in + out)), f = 2
// when every hidden layer is sigmoid (its "logistic"), else 6, for every layer.
enum class Init { Uniform, Glorot, He, GlorotNormal, HeNormal, Sklearn };

Init init_from_name(const std::string& name);

// std::invalid_argument when an output layer of `units` units cannot learn
// with `output` (softmax over a single unit is always 1).
void check_output_units(Activation output, std::size_t units);
const char* init_name(Init init);

// std::invalid_argument unless leaky_slope is finite and either 0 or a normal
// number of T: a smaller positive slope is 0 or subnormal in T, and leaky_relu
// would silently be relu (or lose its precision).
template <class T>
void check_leaky_slope(double leaky_slope);

// --- the network ------------------------------------------------------------------

template <class T>
class Network {
 public:
  // sizes: units per layer, input first ({4, 5, 3} is the article's network);
  // `activations` one per dense layer (softmax only last); `loss` and
  // `reduction` what training minimises; `leaky_slope` the slope of every
  // leaky_relu layer. Parameters start at zero; see initialize.
  Network(std::vector<std::size_t> sizes, std::vector<Activation> activations,
          Loss loss = Loss::Mse, Reduction reduction = Reduction::Sum,
          double leaky_slope = Activation::kDefaultSlope);

  // Every hidden layer `hidden`, the last `output`.
  Network(std::vector<std::size_t> sizes, Activation hidden, Activation output,
          Loss loss = Loss::Mse, Reduction reduction = Reduction::Sum,
          double leaky_slope = Activation::kDefaultSlope);

  std::size_t n_layers() const noexcept { return sizes_.size() - 1; }  // dense layers
  const std::vector<std::size_t>& sizes() const noexcept { return sizes_; }
  std::size_t n_inputs() const noexcept { return sizes_.front(); }
  std::size_t n_outputs() const noexcept { return sizes_.back(); }
  Activation activation(std::size_t layer) const noexcept { return activations_[layer]; }
  Loss loss() const noexcept { return loss_; }
  Reduction reduction() const noexcept { return reduction_; }
  double leaky_slope() const noexcept { return leaky_slope_; }

  // Dropout while training (dropout.hpp): layer l's rate, 0 for none (always
  // for the output layer). set_dropout takes one rate in [0, 1) per hidden
  // layer (std::invalid_argument otherwise); prediction ignores them.
  double dropout(std::size_t l) const noexcept { return l < dropout_.size() ? dropout_[l] : 0.0; }
  bool has_dropout() const noexcept;
  void set_dropout(const std::vector<double>& hidden_rates);

  // Layer `l`'s weights W (in, out) and bias b (out), views into params().
  MatrixView<T> weight(std::size_t l) noexcept;
  ConstMatrixView<T> weight(std::size_t l) const noexcept;
  T* bias(std::size_t l) noexcept { return params_.data() + b_offset_[l]; }
  const T* bias(std::size_t l) const noexcept { return params_.data() + b_offset_[l]; }
  std::size_t weight_offset(std::size_t l) const noexcept { return w_offset_[l]; }
  std::size_t bias_offset(std::size_t l) const noexcept { return b_offset_[l]; }

  // Every parameter, layer by layer, W (row-major) then b.
  T* params() noexcept { return params_.data(); }
  const T* params() const noexcept { return params_.data(); }
  std::size_t n_params() const noexcept { return params_.size(); }

  // Draw every parameter afresh from Rng(seed), in parameter order.
  void initialize(Init init, std::uint64_t seed);

  // Weights packed for predict's products, kept by a caller between calls
  // (predict packs them afresh on every call otherwise). Only the caller can
  // know that the weights have not changed since they were packed.
  struct PackedWeights {
    std::vector<PackedB<T>> layers;
    bool ready = false;  // set by the predict that packed them
  };

  // out (n, outputs) = the network's output for X (n, inputs), n >= 1, X
  // finite (else std::invalid_argument, and out may hold some rows). Rows are
  // split over `pool` in blocks; the result does not depend on the pool.
  // Concurrent predicts on one network are safe. With `packed`: when the
  // weights are packed at all for X's blocks, they are taken from there when
  // `packed->ready`, else packed into it (and ready set) for the next call.
  // The same bits either way.
  void predict(ConstMatrixView<T> X, MatrixView<T> out, ThreadPool* pool = nullptr,
               PackedWeights* packed = nullptr) const;

  // Whether predict may pack the weights for X of `rows` rows (on any pool):
  // when not, a PackedWeights passed along is left as it is.
  static bool predict_may_pack(std::size_t rows);

  // Whether predict of `rows` rows would cut them into more than one block
  // for some pool: when not, it runs on the calling thread whatever the pool.
  static bool predict_splits(std::size_t rows);

 private:
  std::vector<std::size_t> sizes_;
  std::vector<Activation> activations_;
  Loss loss_;
  Reduction reduction_;
  double leaky_slope_;
  std::vector<double> dropout_;  // one per hidden layer; empty: none
  std::vector<std::size_t> w_offset_, b_offset_;
  AlignedBuffer<T> params_;
};

// --- input checks -------------------------------------------------------------------

// Whether every element of M is finite (neither NaN nor infinite). A large M
// is scanned in blocks of rows over `pool`.
template <class T>
bool all_finite(ConstMatrixView<T> M, ThreadPool* pool = nullptr);

// std::invalid_argument naming `name` unless every element of M is finite.
template <class T>
void check_finite(ConstMatrixView<T> M, const char* name, ThreadPool* pool = nullptr);

// std::invalid_argument unless X (n, inputs) can be fed to `net`: named `name`.
template <class T>
void check_input(const Network<T>& net, InputView<T> X, const char* name,
                 ThreadPool* pool = nullptr);

}  // namespace fastmlp
