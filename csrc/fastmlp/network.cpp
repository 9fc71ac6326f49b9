// Dense layers and the network's parameters, forward pass and input checks.
#include <fastmlp/network.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/io_csv.hpp>
#include <fastmlp/names.hpp>
#include <fastmlp/options.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace fastmlp {
namespace {

// The machine's physical memory in bytes, or 0 when unknown. Buffers larger
// than this are refused up front: an overcommitting kernel would hand them
// out and then kill the process while they are filled.
std::size_t physical_memory() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
#endif
  return 0;
}

}  // namespace

// --- one dense layer ------------------------------------------------------------

template <class T>
void dense_forward(MatrixView<T> A, ConstMatrixView<T> X, ConstMatrixView<T> W, const T* b,
                   Activation f, ThreadPool* pool) {
  gemm(Trans::No, Trans::No, X.rows, W.cols, X.cols, T(1), X.data, X.stride, W.data, W.stride,
       T(0), A.data, A.stride, pool);
  bias_activation_forward(f, A, b);
}

template <class T>
void dense_backward_input(MatrixView<T> dX, ConstMatrixView<T> dZ, ConstMatrixView<T> W,
                          ThreadPool* pool) {
  gemm(Trans::No, Trans::Yes, dZ.rows, W.rows, dZ.cols, T(1), dZ.data, dZ.stride, W.data,
       W.stride, T(0), dX.data, dX.stride, pool);
}

template <class T>
void dense_backward_weight(MatrixView<T> dW, ConstMatrixView<T> X, ConstMatrixView<T> dZ,
                           bool accumulate) {
  gemm(Trans::Yes, Trans::No, X.cols, dZ.cols, X.rows, T(1), X.data, X.stride, dZ.data,
       dZ.stride, T(accumulate ? 1 : 0), dW.data, dW.stride);
}

namespace {

// Up to this many columns, column sums are kept in registers: a column's sum
// is a chain of dependent additions, and kept in memory each one would also
// wait for a store and a load (the article's layers: 5 and 3 columns).
constexpr std::size_t kNarrowCols = 8;

// dense_backward_bias for dZ of exactly W columns.
template <class T, std::size_t W>
void column_sums(T* db, ConstMatrixView<T> dZ, bool accumulate) {
  T sum[W] = {};
  if (accumulate) std::copy(db, db + W, sum);
  for (std::size_t i = 0; i < dZ.rows; ++i) {
    const T* d = dZ.row(i);
    for (std::size_t j = 0; j < W; ++j) sum[j] += d[j];
  }
  for (std::size_t j = 0; j < W; ++j) db[j] = sum[j];
}

// column_sums for dZ of W to kNarrowCols columns; false for other widths.
template <class T, std::size_t W = 1>
bool narrow_column_sums(T* db, ConstMatrixView<T> dZ, bool accumulate) {
  if (dZ.cols == W) {
    column_sums<T, W>(db, dZ, accumulate);
    return true;
  }
  if constexpr (W < kNarrowCols) return narrow_column_sums<T, W + 1>(db, dZ, accumulate);
  return false;
}

}  // namespace

template <class T>
void dense_backward_bias(T* db, ConstMatrixView<T> dZ, bool accumulate) {
  if (narrow_column_sums(db, dZ, accumulate)) return;
  if (!accumulate) std::fill(db, db + dZ.cols, T(0));
  for (std::size_t i = 0; i < dZ.rows; ++i) {
    const T* d = dZ.row(i);
    for (std::size_t j = 0; j < dZ.cols; ++j) db[j] += d[j];
  }
}

// --- initialisation ---------------------------------------------------------------

constexpr Init kInits[] = {Init::Uniform, Init::Glorot, Init::He, Init::GlorotNormal,
                           Init::HeNormal, Init::Sklearn};

void check_output_units(Activation output, std::size_t units) {
  if (output == Activation::Softmax && units == 1)
    throw std::invalid_argument("output 'softmax' over a single output is always 1 (nothing to learn); "
                                "use 'sigmoid' for one output, or two softmax outputs");
}

Init init_from_name(const std::string& name) { return from_name("init", name, kInits, init_name); }

const char* init_name(Init init) {
  switch (init) {
    case Init::Uniform: return "uniform";
    case Init::Glorot: return "glorot";
    case Init::He: return "he";
    case Init::GlorotNormal: return "glorot_normal";
    case Init::HeNormal: return "he_normal";
    case Init::Sklearn: return "sklearn";
  }
  return "?";
}

// --- the network ------------------------------------------------------------------

namespace {

// Network::predict's weights are packed for the whole call (PackedB) only up to
// kMaxPackedBytes: the packed copy lives on in each calling thread, as gemm's
// own scratch does, or with the caller that keeps it, so no larger than that. Larger weights are packed by each
// product itself; blocks too small to repay packing (PackedB::packs) read them
// in place.
constexpr std::size_t kMaxPackedBytes = std::size_t(8) << 20;

// check_input without the scan for non-finite values.
template <class T>
void check_input_shape(const Network<T>& net, InputView<T> X, const char* name) {
  if (X.rows == 0) throw std::invalid_argument(std::string(name) + " has no rows");
  if (X.cols != net.n_inputs())
    throw std::invalid_argument(std::string(name) + " has " + std::to_string(X.cols) +
                                " columns but the network takes " +
                                std::to_string(net.n_inputs()) + " inputs");
}

// One activation per dense layer: `hidden` for all but the last.
std::vector<Activation> layer_activations(std::size_t n_sizes, Activation hidden,
                                          Activation output) {
  std::vector<Activation> all(n_sizes > 1 ? n_sizes - 1 : 0, hidden);
  if (!all.empty()) all.back() = output;
  return all;
}

}  // namespace

template <class T>
void check_leaky_slope(double leaky_slope) {
  if (!(std::isfinite(leaky_slope) && leaky_slope >= 0))
    throw std::invalid_argument("leaky_slope must be finite and >= 0; got " + number_text(leaky_slope));
  const T smallest = std::numeric_limits<T>::min();
  if (leaky_slope > 0 && leaky_slope < smallest) {
    const char* dtype = sizeof(T) == 4 ? "float32" : "float64";
    char got[kMaxNumberChars], least[kMaxNumberChars];
    throw std::invalid_argument(
        std::string("leaky_slope must be 0 or at least ") + dtype + "'s smallest normal number, " +
        std::string(least, format_number(smallest, least)) + ", in a " + dtype + " network; got " +
        std::string(got, format_number(leaky_slope, got)) + ", which " + dtype +
        (static_cast<T>(leaky_slope) == 0 ? " rounds to 0 (leaky_relu would be relu)"
                                          : " holds only as a subnormal number"));
  }
}

template <class T>
Network<T>::Network(std::vector<std::size_t> sizes, Activation hidden, Activation output,
                    Loss loss, Reduction reduction, double leaky_slope)
    : Network(sizes, layer_activations(sizes.size(), hidden, output), loss, reduction,
              leaky_slope) {}

template <class T>
Network<T>::Network(std::vector<std::size_t> sizes, std::vector<Activation> activations,
                    Loss loss, Reduction reduction, double leaky_slope)
    : sizes_(std::move(sizes)),
      activations_(std::move(activations)),
      loss_(loss),
      reduction_(reduction),
      leaky_slope_(leaky_slope) {
  if (sizes_.size() < 2)
    throw std::invalid_argument("sizes must list at least an input and an output layer");
  for (std::size_t s : sizes_)
    if (s == 0) throw std::invalid_argument("every layer must have at least one unit");
  if (activations_.size() != sizes_.size() - 1)
    throw std::invalid_argument("a network of " + std::to_string(sizes_.size() - 1) +
                                " layers needs as many activations; got " +
                                std::to_string(activations_.size()));
  check_leaky_slope<T>(leaky_slope);
  for (std::size_t l = 0; l + 1 < activations_.size(); ++l)
    if (activations_[l] == Activation::Softmax)
      throw std::invalid_argument("activation 'softmax' is for output layers only");
  for (Activation& a : activations_) a.slope = leaky_slope;
  check_loss_output(loss, activations_.back());
  check_output_units(activations_.back(), sizes_.back());
  std::size_t total = 0;
  for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
    w_offset_.push_back(total);
    total = checked_add(total, checked_mul(sizes_[l], sizes_[l + 1], "network"), "network");
    b_offset_.push_back(total);
    total = checked_add(total, sizes_[l + 1], "network");
  }
  const std::size_t bytes = checked_mul(total, sizeof(T), "network");
  if (const std::size_t memory = physical_memory(); memory != 0 && bytes > memory)
    throw OutOfMemory("a network of " + std::to_string(total) + " parameters needs " +
                      std::to_string(bytes) + " bytes, more memory than this machine has");
  params_ = AlignedBuffer<T>(total);
}

template <class T>
bool Network<T>::has_dropout() const noexcept {
  return std::any_of(dropout_.begin(), dropout_.end(), [](double p) { return p > 0; });
}

template <class T>
void Network<T>::set_dropout(const std::vector<double>& hidden_rates) {
  const std::size_t hidden = n_layers() - 1;
  if (hidden_rates.size() != hidden)
    throw std::invalid_argument("dropout must give one rate per hidden layer (" + std::to_string(hidden) +
                                "); got " + std::to_string(hidden_rates.size()));
  for (double p : hidden_rates)
    if (!(p >= 0 && p < 1))
      throw std::invalid_argument("dropout rates must be in [0, 1); got " + number_text(p));
  dropout_ = hidden_rates;
}

template <class T>
MatrixView<T> Network<T>::weight(std::size_t l) noexcept {
  return {params_.data() + w_offset_[l], sizes_[l], sizes_[l + 1]};
}

template <class T>
ConstMatrixView<T> Network<T>::weight(std::size_t l) const noexcept {
  return {params_.data() + w_offset_[l], sizes_[l], sizes_[l + 1]};
}

template <class T>
void Network<T>::initialize(Init init, std::uint64_t seed) {
  Rng rng(seed);
  auto draw = [&rng] {  // uniform in [0, 1)
    if constexpr (std::is_same_v<T, float>)
      return rng.uniform_float();
    else
      return static_cast<T>(rng.uniform());
  };
  // sklearn: one factor for every layer, from the hidden layers' activation
  bool all_sigmoid = n_layers() > 1;
  for (std::size_t l = 0; l + 1 < n_layers(); ++l)
    all_sigmoid = all_sigmoid && activation(l) == Activation::Sigmoid;
  const double sklearn_factor = all_sigmoid ? 2.0 : 6.0;
  for (std::size_t l = 0; l < n_layers(); ++l) {
    MatrixView<T> W = weight(l);
    T* b = bias(l);
    if (init == Init::Uniform) {
      for (std::size_t i = 0; i < W.rows * W.cols; ++i) W.data[i] = draw();
      for (std::size_t j = 0; j < W.cols; ++j) b[j] = draw();
      continue;
    }
    if (init == Init::Sklearn) {
      // scikit-learn's _init_coef draws the biases from the weights' range too
      const T limit = static_cast<T>(std::sqrt(sklearn_factor / double(W.rows + W.cols)));
      for (std::size_t i = 0; i < W.rows * W.cols; ++i) W.data[i] = limit * (T(2) * draw() - T(1));
      for (std::size_t j = 0; j < W.cols; ++j) b[j] = limit * (T(2) * draw() - T(1));
      continue;
    }
    const bool glorot = init == Init::Glorot || init == Init::GlorotNormal;
    const double fan = glorot ? double(W.rows + W.cols) : double(W.rows);
    if (init == Init::Glorot || init == Init::He) {
      const T limit = static_cast<T>(std::sqrt(6.0 / fan));
      for (std::size_t i = 0; i < W.rows * W.cols; ++i) W.data[i] = limit * (T(2) * draw() - T(1));
    } else {
      const double sd = std::sqrt(2.0 / fan);
      for (std::size_t i = 0; i < W.rows * W.cols; ++i)
        W.data[i] = static_cast<T>(sd * rng.normal());
    }
    for (std::size_t j = 0; j < W.cols; ++j) b[j] = T(0);
  }
}

template <class T>
bool Network<T>::predict_may_pack(std::size_t rows) {
  // One thread makes the largest blocks, and only large enough blocks pack.
  return PackedB<T>::packs(PackedB<T>::block_rows(rows, 1));
}

template <class T>
bool Network<T>::predict_splits(std::size_t rows) {
  // The more threads, the more blocks.
  return PackedB<T>::block_rows(rows, ThreadPool::kMaxThreads) < rows;
}

template <class T>
void Network<T>::predict(ConstMatrixView<T> X, MatrixView<T> out, ThreadPool* pool,
                         PackedWeights* keep) const {
  check_input_shape(*this, X, "X");
  if (out.rows != X.rows || out.cols != n_outputs())
    throw std::invalid_argument("out must have shape (" + std::to_string(X.rows) + ", " +
                                std::to_string(n_outputs()) + "); got (" +
                                std::to_string(out.rows) + ", " + std::to_string(out.cols) + ")");
  // Each layer's weights are packed once (in parallel), for the whole call or
  // for as long as the caller keeps them, then rows go through every layer in
  // blocks: the scratch for hidden layers stays small whatever n is and a
  // block's activations stay in cache, and blocks go to different threads. A
  // row's result depends on neither the block it is in nor the thread that
  // runs it, nor on the block size the weights were packed for (see
  // gemm.hpp), so the cut may depend on the pool.
  const std::size_t threads = pool != nullptr ? std::size_t(pool->size()) : 1;
  const std::size_t block = PackedB<T>::block_rows(X.rows, threads);
  const std::size_t n_blocks = ceil_div(X.rows, block);
  std::size_t widest = 0, packed_values = 0;
  for (std::size_t l = 1; l < sizes_.size(); ++l) {
    if (l + 1 < sizes_.size()) widest = std::max(widest, sizes_[l]);
    packed_values += sizes_[l - 1] * sizes_[l];
  }
  // The caller's packed weights, else the calling thread's; the pool's
  // threads read them through this pointer (a lambda naming a thread_local
  // would find its own thread's). With one block, the thread that uses them
  // packs them: that leaves them in its cache, and split over threads it
  // measured slower.
  const std::vector<PackedB<T>>* packed = nullptr;
  if (PackedB<T>::packs(block) && packed_values * sizeof(T) <= kMaxPackedBytes) {
    thread_local PackedWeights per_call;
    PackedWeights& p = keep != nullptr ? *keep : per_call;
    if (keep == nullptr || !keep->ready) {
      if (p.layers.size() < n_layers()) p.layers.resize(n_layers());
      for (std::size_t l = 0; l < n_layers(); ++l) {
        const ConstMatrixView<T> W = weight(l);
        p.layers[l].pack(Trans::No, W.rows, W.cols, W.data, W.stride, block,
                         n_blocks > 1 ? pool : nullptr);
      }
      p.ready = keep != nullptr;
    }
    packed = &p.layers;
  }

  // X must be finite. A NaN or an infinity in a row of X makes every value of
  // that row of X W (+ b) non-finite (times any weight, plus anything, it
  // stays NaN or infinite), so a block checks its X W + b (in the product's
  // epilogue, or just written and in cache), and scans its rows of X (the
  // larger, in memory) only when X W + b holds a non-finite value. Blocks
  // with finite rows are computed in any case.
  std::atomic<bool> finite{true};
  auto run_block = [&](std::size_t b) {
    thread_local AlignedBuffer<T> scratch;
    const std::size_t first = b * block;
    const std::size_t rows = std::min(block, X.rows - first);
    if (scratch.size() < 2 * block * widest) scratch = AlignedBuffer<T>(2 * block * widest);
    ConstMatrixView<T> in = X.rows_range(first, rows);
    for (std::size_t l = 0; l < n_layers(); ++l) {
      MatrixView<T> a = l + 1 == n_layers()
                            ? out.rows_range(first, rows)
                            : MatrixView<T>(scratch.data() + (l % 2) * block * widest, rows,
                                            sizes_[l + 1]);
      const Activation f = activations_[l];
      bool nonfinite = false;
      if (packed != nullptr) {
        // The bias and the activation go into the product's epilogue.
        Epilogue<T> ep;
        ep.bias = bias(l);
        ep.act = f;
        ep.nonfinite = l == 0 ? &nonfinite : nullptr;
        gemm(Trans::No, rows, T(1), in.data, in.stride, (*packed)[l], T(0), a.data, a.stride, ep);
      } else {
        const ConstMatrixView<T> W = weight(l);
        gemm(Trans::No, Trans::No, rows, W.cols, W.rows, T(1), in.data, in.stride, W.data,
             W.stride, T(0), a.data, a.stride);
        nonfinite = l == 0 && !all_finite<T>(a);
        bias_activation_forward(f, a, bias(l));
      }
      if (nonfinite && !all_finite(in)) {
        finite.store(false, std::memory_order_relaxed);
        return;
      }
      in = a;
    }
  };
  run_tasks(pool, n_blocks, run_block);
  if (!finite.load(std::memory_order_relaxed)) check_finite(X, "X");  // throws, naming where
}

// --- input checks -------------------------------------------------------------------

namespace {

// all_finite on one thread.
template <class T>
bool rows_finite(ConstMatrixView<T> M) {
  // A value is NaN or infinite when its exponent bits are all ones. The scan
  // ORs integer tests, which the compiler vectorises (a float reduction it
  // would not reorder).
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  constexpr Bits exponent = sizeof(T) == 8 ? Bits(0x7ff) << 52 : Bits(0xff) << 23;
  Bits bad = 0;
  for (std::size_t i = 0; i < M.rows; ++i) {
    const T* row = M.row(i);
    for (std::size_t j = 0; j < M.cols; ++j) {
      Bits bits;
      std::memcpy(&bits, row + j, sizeof bits);
      bad |= Bits((bits & exponent) == exponent);
    }
  }
  return !bad;
}

// Values per block of all_finite's parallel scan (a quarter of a MiB of float).
constexpr std::size_t kFiniteBlock = std::size_t(1) << 16;

}  // namespace

template <class T>
bool all_finite(ConstMatrixView<T> M, ThreadPool* pool) {
  const std::size_t cols = std::max<std::size_t>(1, M.cols);
  const std::size_t rows = std::max<std::size_t>(1, kFiniteBlock / cols);
  const std::size_t blocks = ceil_div(M.rows, rows);
  if (pool == nullptr || pool->size() == 1 || blocks < 2) return rows_finite(M);
  std::atomic<bool> finite{true};
  const auto block = [&](std::size_t b) {
    const std::size_t first = b * rows;
    if (finite.load(std::memory_order_relaxed) &&
        !rows_finite(M.rows_range(first, std::min(rows, M.rows - first))))
      finite.store(false, std::memory_order_relaxed);
  };
  pool->parallel_for(blocks, std::cref(block));
  return finite.load();
}

template <class T>
void check_finite(ConstMatrixView<T> M, const char* name, ThreadPool* pool) {
  if (all_finite(M, pool)) return;  // only a failure pays for finding the place
  for (std::size_t i = 0; i < M.rows; ++i)
    for (std::size_t j = 0; j < M.cols; ++j)
      if (!std::isfinite(M(i, j)))
        throw std::invalid_argument(std::string(name) + " must be finite; found " +
                                    number_text(M(i, j)) + " at row " + std::to_string(i) +
                                    ", column " + std::to_string(j));
}

template <class T>
void check_input(const Network<T>& net, InputView<T> X, const char* name, ThreadPool* pool) {
  check_input_shape(net, X, name);
  check_finite(X, name, pool);
}

// --- instantiations -------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                               \
  template void dense_forward<T>(MatrixView<T>, ConstMatrixView<T>, ConstMatrixView<T>,     \
                                 const T*, Activation, ThreadPool*);                        \
  template void dense_backward_input<T>(MatrixView<T>, ConstMatrixView<T>,                  \
                                        ConstMatrixView<T>, ThreadPool*);                   \
  template void dense_backward_weight<T>(MatrixView<T>, ConstMatrixView<T>,                 \
                                         ConstMatrixView<T>, bool);                             \
  template void dense_backward_bias<T>(T*, ConstMatrixView<T>, bool);                        \
  template class Network<T>;                                                                 \
  template void check_leaky_slope<T>(double);                                                \
  template bool all_finite<T>(ConstMatrixView<T>, ThreadPool*);                              \
  template void check_finite<T>(ConstMatrixView<T>, const char*, ThreadPool*);               \
  template void check_input<T>(const Network<T>&, InputView<T>, const char*, ThreadPool*);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
