// The gradient of the loss and the epoch loop.
#include <fastmlp/train.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>

#include <fastmlp/gemm.hpp>
#include <fastmlp/losses.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

template <class T>
Workspace<T>::Workspace(const Network<T>& net, std::size_t rows, bool gather, bool backward) {
  const std::size_t L = net.n_layers();
  for (std::size_t l = 0; l < L; ++l) {
    const std::size_t units = net.sizes()[l + 1];
    activations.emplace_back(rows, units);
    deltas.emplace_back(backward || l + 1 == L ? rows : 0, units);
  }
  if (loss_needs_logits(net.loss())) logits = Matrix<T>(rows, net.n_outputs());
  loss_terms = Matrix<double>(rows, loss_terms_per_row(net.loss(), net.activation(L - 1),
                                                       net.n_outputs()));
  if (backward) grads = AlignedBuffer<T>(net.n_params());
  if (gather) {
    X = Matrix<T>(rows, net.n_inputs());
    Y = Matrix<T>(rows, net.n_outputs());
    weight = AlignedBuffer<T>(rows);
  }
}

// --- the gradient -----------------------------------------------------------------
//
// A batch's gradient goes in two phases, each a single hand-off to the pool.
// Phase 1 cuts the rows into blocks. Each block, on one thread and with
// single-threaded products, is gathered (a shuffled batch), goes forward
// through every layer, gets its loss terms and output dZ, and goes back down:
// dZ_{l-1} = (dZ_l W_l^T) * f'_{l-1}. Every value there depends on its own row
// alone (a row of a product on that row of its left operand; the sweeps work
// element by element or row by row), so neither the cut nor the thread that
// runs a block changes a bit. Phase 2 sums over the rows: dW_l = A_{l-1}^T dZ_l
// and db_l = the column sums of dZ_l, each element over all the batch's rows in
// row order, as one thread would; it is cut by rows of dW and columns of db
// instead. The loss then adds the rows' terms in row order.

namespace {

// Below this much work (rows * parameters) a batch stays on the calling
// thread: a hand-off to the pool costs about a microsecond.
constexpr std::size_t kParallelWork = std::size_t(1) << 18;
// Phase 1's blocks: the rows shared out evenly over the threads, in multiples
// of kBlockAlign rows, at most kBlockMax (whose activations stay in L2).
constexpr std::size_t kBlockAlign = 16;
constexpr std::size_t kBlockMax = 256;
// Phase 2's tasks per thread and layer (see parameter_gradients).
constexpr std::size_t kTasksPerThread = 2;

// The rows of one gradient: rows [first, first + rows) of X, Y and weight, or,
// with `order`, rows order[first] ... order[first + rows - 1], which phase 1
// gathers into the workspace.
template <class T>
struct Batch {
  ConstMatrixView<T> X, Y;
  const T* weight;  // null: every row 1
  const std::size_t* order;
  std::size_t first, rows;

  // The row of X that is row i of the batch.
  std::size_t row(std::size_t i) const { return order != nullptr ? order[first + i] : first + i; }
  // The batch's weights (rows), in the workspace once phase 1 has gathered them.
  const T* weights(const Workspace<T>& ws) const {
    if (weight == nullptr) return nullptr;
    return order != nullptr ? ws.weight.data() : weight + first;
  }
};

// The sum of the batch's weights, in row order.
template <class T>
double weight_sum(const Batch<T>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < b.rows; ++i) sum += b.weight[b.row(i)];
  return sum;
}

// The factor of the loss and dZ: 1 under the sum reduction; under the mean,
// 1 / n, or 1 / (the sum of the weights), 0 when that is 0.
template <class T>
T reduction_scale(Reduction reduction, const Batch<T>& b) {
  if (reduction != Reduction::Mean) return T(1);
  if (b.weight == nullptr) return T(1) / static_cast<T>(b.rows);
  const double sum = weight_sum(b);
  return sum > 0 ? static_cast<T>(1.0 / sum) : T(0);
}

// Phase 1 for rows [first, first + count) of a batch (see above); without
// `backward`, up to the loss terms and the output dZ.
template <class T>
void rows_forward_backward(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale,
                           bool backward, std::size_t first, std::size_t count) {
  const std::size_t L = net.n_layers();
  auto rows = [&](auto& M) { return M.view().rows_range(first, count); };
  ConstMatrixView<T> X = b.X.rows_range(b.first + first, count);
  ConstMatrixView<T> Y = b.Y.rows_range(b.first + first, count);
  if (b.order != nullptr) {
    const MatrixView<T> gx = rows(ws.X), gy = rows(ws.Y);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t from = b.row(first + i);
      std::copy(b.X.row(from), b.X.row(from) + b.X.cols, gx.row(i));
      std::copy(b.Y.row(from), b.Y.row(from) + b.Y.cols, gy.row(i));
      if (b.weight != nullptr) ws.weight.data()[first + i] = b.weight[from];
    }
    X = gx;
    Y = gy;
  }
  const T* weight = b.weights(ws);
  if (weight != nullptr) weight += first;

  // forward: A_l = f_l(A_{l-1} W_l + b_l), with A_{-1} = X; the output layer's
  // logits Z kept when the loss needs them
  auto A = [&](std::size_t l) { return rows(ws.activations[l]); };
  auto input = [&](std::size_t l) { return l == 0 ? X : ConstMatrixView<T>(A(l - 1)); };
  for (std::size_t l = 0; l + 1 < L; ++l)
    dense_forward(A(l), input(l), net.weight(l), net.bias(l), net.activation(l));
  MatrixView<T> logits;
  if (loss_needs_logits(net.loss())) {
    logits = rows(ws.logits);
    dense_forward(logits, input(L - 1), net.weight(L - 1), net.bias(L - 1), Activation::Identity);
    activation_forward<T>(net.activation(L - 1), A(L - 1), logits);
  } else {
    dense_forward(A(L - 1), input(L - 1), net.weight(L - 1), net.bias(L - 1),
                  net.activation(L - 1));
  }

  // the loss terms and dZ at the output, then dZ of every layer below
  loss_forward_backward<T>(net.loss(), net.activation(L - 1), rows(ws.deltas[L - 1]),
                           rows(ws.loss_terms), logits, A(L - 1), Y, scale, weight);
  if (!backward) return;
  for (std::size_t l = L - 1; l > 0; --l) {
    const MatrixView<T> dX = rows(ws.deltas[l - 1]);
    dense_backward_input(dX, ConstMatrixView<T>(rows(ws.deltas[l])), net.weight(l));
    activation_backward<T>(net.activation(l - 1), dX, A(l - 1));
  }
}

// The rows of phase 1's blocks for a batch of `rows` rows.
std::size_t block_rows(std::size_t rows, ThreadPool* pool) {
  const std::size_t threads = pool != nullptr ? static_cast<std::size_t>(pool->size()) : 1;
  return std::min(kBlockMax, ceil_div(ceil_div(rows, threads), kBlockAlign) * kBlockAlign);
}

// Phase 1 over all the batch's rows, in blocks over the pool.
template <class T>
void forward_backward(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale,
                      bool backward, ThreadPool* pool) {
  const std::size_t block = block_rows(b.rows, pool);
  run_tasks(pool, ceil_div(b.rows, block), [&](std::size_t i) {
    const std::size_t first = i * block;
    rows_forward_backward(net, b, ws, scale, backward, first, std::min(block, b.rows - first));
  });
}

// Phase 2 cuts each layer's dW into this many parts by rows, and its db by
// columns: kTasksPerThread per thread, large products (each part packs all of
// dZ) but enough of them for the threads to even out. Without a pool, one.
std::size_t grad_parts(ThreadPool* pool) {
  return pool != nullptr ? kTasksPerThread * static_cast<std::size_t>(pool->size()) : 1;
}

// Phase 2: every layer's dW and db into ws.grads, from the batch's inputs X
// (rows, inputs) and the dZ phase 1 left, in tasks over the pool.
template <class T>
void parameter_gradients(const Network<T>& net, ConstMatrixView<T> X, Workspace<T>& ws,
                         ThreadPool* pool) {
  const std::size_t n = X.rows, parts = grad_parts(pool);
  const auto& sizes = net.sizes();
  T* grads = ws.grads.data();
  // Part `part` of layer l's dW (part < parts), or of its db (the rest); a
  // layer narrower than `parts` leaves some parts empty.
  const auto task = [&](std::size_t l, std::size_t part) {
    const ConstMatrixView<T> dZ = ws.deltas[l].view().rows_range(0, n);
    const bool weight = part < parts;
    const std::size_t units = weight ? sizes[l] : sizes[l + 1];
    const std::size_t size = ceil_div(units, parts), first = (weight ? part : part - parts) * size;
    if (first >= units) return;
    const std::size_t count = std::min(size, units - first);
    if (weight) {
      const ConstMatrixView<T> input = l == 0 ? X : ws.activations[l - 1].view().rows_range(0, n);
      const MatrixView<T> dW(grads + net.weight_offset(l), sizes[l], sizes[l + 1]);
      dense_backward_weight(dW.rows_range(first, count), input.cols_range(first, count), dZ);
    } else {
      dense_backward_bias(grads + net.bias_offset(l) + first, dZ.cols_range(first, count));
    }
  };
  run_tasks(pool, net.n_layers() * 2 * parts,
            [&](std::size_t t) { task(t / (2 * parts), t % (2 * parts)); });
}

// The pool for a batch of `rows` rows: none when the work is too small.
template <class T>
ThreadPool* pool_for(const Network<T>& net, std::size_t rows, ThreadPool* pool) {
  return rows * net.n_params() < kParallelWork ? nullptr : pool;
}

// Sizes the gemm scratch of each of the pool's threads for the products phase
// 1 and (with `backward`) phase 2 give them for batches of up to `rows` rows,
// so that the batches allocate nothing, whichever thread takes which task.
template <class T>
void reserve_scratch(const Network<T>& net, std::size_t rows, bool backward, ThreadPool* pool) {
  pool = pool_for(net, rows, pool);
  if (pool == nullptr) return;
  const std::size_t block = block_rows(rows, pool);
  const auto& sizes = net.sizes();
  const auto reserve = [&] {
    for (std::size_t l = 0; l < net.n_layers(); ++l) {
      const std::size_t in = sizes[l], out = sizes[l + 1];
      gemm_reserve<T>(Trans::No, block, out, in);  // A_{l-1} W_l
      if (!backward) continue;
      if (l > 0) gemm_reserve<T>(Trans::Yes, block, in, out);  // dZ_l W_l^T
      gemm_reserve<T>(Trans::No, ceil_div(in, grad_parts(pool)), out,
                      rows);  // part of A_{l-1}^T dZ_l
    }
  };
  pool->on_every_thread(std::cref(reserve));
}

// The loss of a batch under the network's reduction, and its gradient in ws.grads.
template <class T>
double batch_gradient(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws,
                      ThreadPool* pool) {
  pool = pool_for(net, b.rows, pool);
  const T scale = reduction_scale(net.reduction(), b);
  forward_backward(net, b, ws, scale, true, pool);
  const double loss = loss_sum(ConstMatrixView<double>(ws.loss_terms.view()).rows_range(0, b.rows),
                               scale, b.weights(ws));
  const ConstMatrixView<T> X = b.order != nullptr
                                   ? ConstMatrixView<T>(ws.X.view()).rows_range(0, b.rows)
                                   : b.X.rows_range(b.first, b.rows);
  parameter_gradients(net, X, ws, pool);
  return loss;
}

}  // namespace

template <class T>
double loss_and_gradient(const Network<T>& net, InputView<T> X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool, const T* weight) {
  return batch_gradient(net, Batch<T>{X, Y, weight, nullptr, 0, X.rows}, ws, pool);
}

// --- checks ---------------------------------------------------------------------------

template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y, const char* x_name,
                      const char* y_name, ThreadPool* pool) {
  check_input(net, X, x_name, pool);
  if (Y.rows != X.rows)
    throw std::invalid_argument(std::string(x_name) + " and " + y_name +
                                " must have the same number of rows; got " +
                                std::to_string(X.rows) + " and " + std::to_string(Y.rows));
  if (Y.cols != net.n_outputs())
    throw std::invalid_argument(std::string(y_name) + " has " + std::to_string(Y.cols) +
                                " columns but the network has " +
                                std::to_string(net.n_outputs()) + " outputs");
  check_finite(Y, y_name, pool);
}

namespace {

void check_options(const FitOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
  };
  require(std::isfinite(o.learning_rate), "learning_rate must be finite");
  require(o.threads >= 1, "threads must be at least 1");
  require(o.threads <= ThreadPool::kMaxThreads,
          "threads must be at most " + std::to_string(ThreadPool::kMaxThreads));
  require(o.l2 >= 0 && std::isfinite(o.l2), "l2 must be non-negative and finite");
  require(o.clip_norm >= 0 && std::isfinite(o.clip_norm),
          "clip_norm must be non-negative and finite (0: no clipping)");
  require(o.tol >= 0 && std::isfinite(o.tol), "tol must be non-negative and finite");
  check_optimizer_config(o.optimizer);
  check_schedule(o.schedule);
}

template <class T>
void check_sample_weight(const T* w, std::size_t n) {
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(w[i] >= 0) || !std::isfinite(w[i]))
      throw std::invalid_argument("sample_weight must be finite and non-negative; found " +
                                  std::to_string(w[i]) + " at row " + std::to_string(i));
    sum += w[i];
  }
  if (!(sum > 0)) throw std::invalid_argument("sample_weight must not be all zero");
}

}  // namespace

// --- validation ------------------------------------------------------------------------

namespace {
// Whether the output layer's activation makes the network a classifier.
bool classifies(Activation output) {
  return output == Activation::Softmax || output == Activation::Sigmoid;
}
}  // namespace

const char* validation_score_name(Activation output) {
  return classifies(output) ? "accuracy" : "r2";
}

RowSplit validation_split(std::size_t n, double fraction, std::uint64_t seed) {
  if (!(fraction > 0 && fraction < 1))
    throw std::invalid_argument("validation_fraction must be between 0 and 1 (exclusive); got " +
                                std::to_string(fraction));
  const std::size_t n_val =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n))));
  if (n_val >= n)
    throw std::invalid_argument("validation_fraction " + std::to_string(fraction) + " of " +
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
    label[i] = Y.cols == 1 ? std::size_t(Y(i, 0) >= T(0.5)) : argmax_row(Y, i);
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

namespace {

// The validation loss and score of a network, with every buffer made up front.
template <class T>
class Validator {
 public:
  Validator(const Network<T>& net, InputView<T> X, InputView<T> Y)
      : X_(X), Y_(Y), ws_(net, X.rows, false, false),
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

  // (loss, score) of `net` now: the loss under its reduction, unweighted.
  std::pair<double, double> evaluate(const Network<T>& net, ThreadPool* pool) {
    const std::size_t n = X_.rows;
    const Batch<T> b{X_, Y_, nullptr, nullptr, 0, n};
    pool = pool_for(net, n, pool);
    const T scale = reduction_scale(net.reduction(), b);
    forward_backward(net, b, ws_, scale, false, pool);
    const double loss = loss_sum(ConstMatrixView<double>(ws_.loss_terms.view()), scale);
    const ConstMatrixView<T> A = ws_.activations.back().view();
    return {loss, accuracy_ ? accuracy(A) : r2(A)};
  }

 private:
  double accuracy(ConstMatrixView<T> A) const {
    std::size_t correct = 0;
    for (std::size_t i = 0; i < A.rows; ++i)
      correct += A.cols == 1 ? (A(i, 0) >= T(0.5)) == (Y_(i, 0) >= T(0.5))
                             : argmax_row(A, i) == argmax_row(Y_, i);
    return static_cast<double>(correct) / static_cast<double>(A.rows);
  }

  // scikit-learn's r2_score: 1 - SS_res / SS_tot per output (1 for a constant
  // output predicted exactly, else 0 for one), averaged over the outputs.
  double r2(ConstMatrixView<T> A) {
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

  ConstMatrixView<T> X_, Y_;
  Workspace<T> ws_;
  bool accuracy_;
  std::vector<double> ss_tot_, ss_res_;
};

// --- the epoch loop ---------------------------------------------------------------------

// The order of the rows in epoch `epoch`: a Fisher-Yates shuffle drawn from a
// stream that depends only on (seed, epoch), so a resumed fit continues the
// same sequence of shuffles.
void shuffle_rows(std::vector<std::size_t>& order, std::uint64_t seed, std::uint64_t epoch) {
  std::iota(order.begin(), order.end(), std::size_t(0));
  Rng rng(seed ^ (0x9e3779b97f4a7c15ULL * (epoch + 1)));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

// The network's parameter runs: each layer's W (decayed by l2) then b (not).
template <class T>
std::vector<ParamSegment> param_segments(const Network<T>& net) {
  std::vector<ParamSegment> segments;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const std::size_t w = net.weight_offset(l), b = net.bias_offset(l);
    segments.push_back({w, b, true});
    segments.push_back({b, b + net.sizes()[l + 1], false});
  }
  return segments;
}

std::string divergence_message(std::size_t epoch, double loss) {
  const std::string what = std::isfinite(loss) ? "the parameters became NaN or infinite"
                                               : "the loss became " + std::to_string(loss);
  const std::string kept = epoch == 1 ? "the parameters it had before this fit"
                                      : "its parameters from the end of epoch " + std::to_string(epoch - 1);
  return "training diverged in epoch " + std::to_string(epoch) + " of this fit: " + what +
         "; the network keeps " + kept + " (try a smaller learning_rate, or clip_norm)";
}

}  // namespace

template <class T>
FitResult fit(Network<T>& net, const FitData<T>& data, const FitOptions& options,
              Optimizer<T>& optimizer, const FitHooks& hooks) {
  const ConstMatrixView<T> X = data.X, Y = data.Y;
  // The pool first, when the thread count is valid: large inputs are checked
  // over it, and bad data is reported before bad options.
  ThreadPool* pool = options.threads > 1 && options.threads <= ThreadPool::kMaxThreads
                         ? &shared_thread_pool(options.threads)
                         : nullptr;
  check_fit_inputs(net, X, Y, "X", "Y", pool);
  check_options(options);
  const bool validating = data.X_val.rows != 0;
  if (validating) check_fit_inputs(net, data.X_val, data.Y_val, "X_val", "Y_val", pool);
  if (data.sample_weight != nullptr) check_sample_weight(data.sample_weight, X.rows);
  if (options.schedule.kind == ScheduleKind::Cosine && options.schedule.lr_min > options.learning_rate)
    throw std::invalid_argument("lr_min must not exceed learning_rate");
  if (hooks.callback && hooks.callback_every == 0)
    throw std::invalid_argument("callback_every must be at least 1");

  // everything the loop needs, made now
  const std::size_t n = X.rows, n_params = net.n_params();
  const std::size_t batch = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  const bool shuffled = options.shuffle && batch < n;
  const T* weight = data.sample_weight;
  Workspace<T> ws(net, batch, shuffled);
  std::vector<std::size_t> order(shuffled ? n : 0);
  optimizer.prepare(options.optimizer, n_params);
  const std::vector<ParamSegment> segments = param_segments(net);
  std::unique_ptr<Validator<T>> validator;
  if (validating) validator = std::make_unique<Validator<T>>(net, data.X_val, data.Y_val);
  reserve_scratch(net, batch, true, pool);
  if (validating) reserve_scratch(net, data.X_val.rows, false, pool);
  // `start`: the parameters at the start of the epoch (to fall back on when it
  // diverges; the training loss's early stopping keeps them when they are best)
  const bool early = options.early_stopping > 0;
  const bool guard = options.stop_on_divergence;
  AlignedBuffer<T> start(guard || (early && !validating) ? n_params : 0);
  AlignedBuffer<T> best(early ? n_params : 0);
  T* params = net.params();
  if (start.size()) std::copy(params, params + n_params, start.data());

  FitResult result;
  const std::size_t reserve = std::min<std::size_t>(options.epochs, std::size_t(1) << 20);
  result.loss.reserve(reserve);
  result.learning_rate.reserve(reserve);
  if (validating) {
    result.val_loss.reserve(reserve);
    result.val_score.reserve(reserve);
  }
  // Ask should_stop about every 2^22 multiply-adds of work (a few milliseconds).
  const std::size_t work = std::max<std::size_t>(1, n * n_params);
  const std::size_t check_every = std::max<std::size_t>(1, (std::size_t(1) << 22) / work);
  // Under the mean reduction a batch's loss is its (weighted) mean; the epoch's
  // is the mean over all n rows, so each batch counts with its share of them.
  const bool mean = net.reduction() == Reduction::Mean;
  double total_weight = static_cast<double>(n);
  if (weight != nullptr) total_weight = std::accumulate(weight, weight + n, 0.0);
  double best_figure = std::numeric_limits<double>::infinity();
  bool have_best = false;
  std::size_t epochs_without_improvement = 0;
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_progress = Clock::now();

  StepOptions step;
  step.l2 = options.l2;
  step.clip_norm = options.clip_norm;
  T* grads = ws.grads.data();
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    step.learning_rate = scheduled_rate(options.schedule, options.learning_rate, epoch,
                                        options.epochs, n);
    if (shuffled) shuffle_rows(order, options.seed, options.first_epoch + epoch);
    double epoch_loss = 0;
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);
      const Batch<T> b{X, Y, weight, shuffled ? order.data() : nullptr, first, rows};
      const double loss = batch_gradient(net, b, ws, pool);
      if (mean && rows != n) {
        const double share = weight != nullptr ? weight_sum(b) : static_cast<double>(rows);
        epoch_loss += loss * share / total_weight;
      } else {
        epoch_loss += loss;
      }
      if (guard && !std::isfinite(loss)) break;
      optimizer.step(params, grads, segments, step, pool);
    }

    if (guard) {
      if (!std::isfinite(epoch_loss) || !all_finite(ConstMatrixView<T>(params, 1, n_params))) {
        std::copy(start.data(), start.data() + n_params, params);
        throw Diverged(divergence_message(epoch + 1, epoch_loss), epoch + 1, std::move(result));
      }
    }
    result.loss.push_back(epoch_loss);
    result.learning_rate.push_back(step.learning_rate);
    result.epochs = epoch + 1;
    EpochLog log;
    log.epoch = epoch + 1;
    log.epochs = options.epochs;
    log.loss = epoch_loss;
    log.learning_rate = step.learning_rate;
    log.val_loss = log.val_score = std::numeric_limits<double>::quiet_NaN();
    if (validating) {
      std::tie(log.val_loss, log.val_score) = validator->evaluate(net, pool);
      result.val_loss.push_back(log.val_loss);
      result.val_score.push_back(log.val_score);
    }

    // Early stopping, as scikit-learn's MLP: an epoch improves when its figure
    // is below the best so far by at least tol; the best parameters are those
    // of the lowest figure: after the epoch for the validation loss (measured
    // then), at its start for the training loss (measured on the way through).
    if (early) {
      const double figure = validating ? log.val_loss : epoch_loss;
      epochs_without_improvement = figure <= best_figure - options.tol ? 0 : epochs_without_improvement + 1;
      if (figure < best_figure) {
        best_figure = figure;
        have_best = true;
        result.best_epoch = validating ? epoch + 1 : epoch;
        const T* source = validating ? params : start.data();
        std::copy(source, source + n_params, best.data());
      }
      result.early_stopped = epochs_without_improvement >= options.early_stopping;
    }
    if (start.size()) std::copy(params, params + n_params, start.data());

    log.last = result.early_stopped || epoch + 1 == options.epochs;
    if (hooks.callback && ((epoch + 1) % hooks.callback_every == 0 || log.last) &&
        !hooks.callback(log))
      result.stopped_by_callback = true;
    if (hooks.progress) {
      const Clock::time_point now = Clock::now();
      if (log.last || std::chrono::duration<double>(now - last_progress).count() >= hooks.progress_seconds) {
        last_progress = now;
        if (!hooks.progress(log)) result.stopped_by_callback = true;
      }
    }
    if (result.early_stopped || result.stopped_by_callback) break;
    if (hooks.should_stop && result.epochs % check_every == 0 && hooks.should_stop()) {
      result.stopped = true;
      break;
    }
  }
  if (have_best && !result.stopped)
    std::copy(best.data(), best.data() + n_params, params);
  return result;
}

template <class T>
FitResult fit(Network<T>& net, InputView<T> X, InputView<T> Y, const FitOptions& options,
              const StopCheck& should_stop) {
  Optimizer<T> optimizer;
  FitData<T> data;
  data.X = X;
  data.Y = Y;
  FitHooks hooks;
  hooks.should_stop = should_stop;
  return fit(net, data, options, optimizer, hooks);
}

// --- instantiations ---------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                                 \
  template class Workspace<T>;                                                                 \
  template double loss_and_gradient<T>(const Network<T>&, InputView<T>, InputView<T>,         \
                                       Workspace<T>&, ThreadPool*, const T*);                  \
  template void check_fit_inputs<T>(const Network<T>&, InputView<T>, InputView<T>,            \
                                    const char*, const char*, ThreadPool*);                    \
  template std::vector<T> class_weights<T>(ConstMatrixView<T>, const std::vector<double>&);    \
  template FitResult fit<T>(Network<T>&, const FitData<T>&, const FitOptions&, Optimizer<T>&,  \
                            const FitHooks&);                                                  \
  template FitResult fit<T>(Network<T>&, InputView<T>, InputView<T>, const FitOptions&,        \
                            const StopCheck&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
