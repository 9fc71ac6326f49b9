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

#include <fastmlp/losses.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

template <class T>
Workspace<T>::Workspace(const Network<T>& net, std::size_t rows, bool gather, bool backward) {
  std::size_t widest = 0;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    activations.emplace_back(rows, net.sizes()[l + 1]);
    widest = std::max(widest, net.sizes()[l + 1]);
  }
  if (loss_needs_logits(net.loss())) logits = Matrix<T>(rows, net.n_outputs());
  delta = Matrix<T>(rows, backward ? widest : net.n_outputs());
  if (backward) {
    delta_next = Matrix<T>(rows, widest);
    grads = AlignedBuffer<T>(net.n_params());
  }
  if (gather) {
    X = Matrix<T>(rows, net.n_inputs());
    Y = Matrix<T>(rows, net.n_outputs());
    weight = AlignedBuffer<T>(rows);
  }
}

// --- the gradient -----------------------------------------------------------------

namespace {

// The forward pass over X into ws: A_l = f_l(A_{l-1} W_l + b_l), with A_{-1} =
// X; the output layer's logits Z are kept when the loss needs them. Returns them.
template <class T>
MatrixView<T> forward(const Network<T>& net, InputView<T> X, Workspace<T>& ws, ThreadPool* pool) {
  const std::size_t n = X.rows, L = net.n_layers();
  const auto& sizes = net.sizes();
  auto A = [&](std::size_t l) { return MatrixView<T>(ws.activations[l].data(), n, sizes[l + 1]); };
  auto layer_input = [&](std::size_t l) { return l == 0 ? X : ConstMatrixView<T>(A(l - 1)); };
  for (std::size_t l = 0; l + 1 < L; ++l)
    dense_forward(A(l), layer_input(l), net.weight(l), net.bias(l), net.activation(l), pool);
  MatrixView<T> logits(ws.logits.data(), n, sizes[L]);
  if (loss_needs_logits(net.loss())) {
    dense_forward(logits, layer_input(L - 1), net.weight(L - 1), net.bias(L - 1),
                  Activation::Identity, pool);
    activation_forward<T>(net.activation(L - 1), A(L - 1), logits);
  } else {
    dense_forward(A(L - 1), layer_input(L - 1), net.weight(L - 1), net.bias(L - 1),
                  net.activation(L - 1), pool);
  }
  return logits;
}

// The factor of the loss and dZ: 1 under the sum reduction; under the mean,
// 1 / n, or 1 / (the sum of the weights), 0 when that is 0.
template <class T>
T reduction_scale(Reduction reduction, std::size_t n, const T* weight) {
  if (reduction != Reduction::Mean) return T(1);
  if (weight == nullptr) return T(1) / static_cast<T>(n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += weight[i];
  return sum > 0 ? static_cast<T>(1.0 / sum) : T(0);
}

}  // namespace

template <class T>
double loss_and_gradient(const Network<T>& net, InputView<T> X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool, const T* weight) {
  const std::size_t n = X.rows, L = net.n_layers();
  const auto& sizes = net.sizes();
  auto A = [&](std::size_t l) { return MatrixView<T>(ws.activations[l].data(), n, sizes[l + 1]); };
  auto layer_input = [&](std::size_t l) { return l == 0 ? X : ConstMatrixView<T>(A(l - 1)); };
  const MatrixView<T> logits = forward(net, X, ws, pool);

  // the loss and dZ at the output
  const T scale = reduction_scale(net.reduction(), n, weight);
  MatrixView<T> dZ(ws.delta.data(), n, sizes[L]);
  const double loss = loss_forward_backward<T>(net.loss(), net.activation(L - 1), dZ, logits,
                                               A(L - 1), Y, scale, weight);

  // backward, last layer first
  for (std::size_t l = L; l-- > 0;) {
    MatrixView<T> dW(ws.grads.data() + net.weight_offset(l), sizes[l], sizes[l + 1]);
    MatrixView<T> dX = l == 0 ? MatrixView<T>() : MatrixView<T>(ws.delta_next.data(), n, sizes[l]);
    dense_backward(dX, dW, ws.grads.data() + net.bias_offset(l), ConstMatrixView<T>(dZ),
                   layer_input(l), net.weight(l), pool);
    if (l == 0) break;
    activation_backward<T>(net.activation(l - 1), dX, A(l - 1));
    std::swap(ws.delta, ws.delta_next);
    dZ = MatrixView<T>(ws.delta.data(), n, sizes[l]);
  }
  return loss;
}

// --- checks ---------------------------------------------------------------------------

template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y, const char* x_name,
                      const char* y_name) {
  check_input(net, X, x_name);
  if (Y.rows != X.rows)
    throw std::invalid_argument(std::string(x_name) + " and " + y_name +
                                " must have the same number of rows; got " +
                                std::to_string(X.rows) + " and " + std::to_string(Y.rows));
  if (Y.cols != net.n_outputs())
    throw std::invalid_argument(std::string(y_name) + " has " + std::to_string(Y.cols) +
                                " columns but the network has " +
                                std::to_string(net.n_outputs()) + " outputs");
  check_finite(Y, y_name);
}

namespace {

void check_options(const FitOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
  };
  require(std::isfinite(o.learning_rate), "learning_rate must be finite");
  require(o.threads >= 1, "threads must be at least 1");
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
    const std::size_t n = X_.rows, k = Y_.cols;
    const MatrixView<T> logits = forward(net, X_, ws_, pool);
    const ConstMatrixView<T> A(ws_.activations.back().data(), n, k);
    const double loss =
        loss_forward_backward<T>(net.loss(), net.activation(net.n_layers() - 1),
                                 MatrixView<T>(ws_.delta.data(), n, k), logits, A, Y_,
                                 reduction_scale<T>(net.reduction(), n, nullptr));
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

// Row i of `from` into row j of `to`.
template <class T>
void copy_row(MatrixView<T> to, std::size_t j, ConstMatrixView<T> from, std::size_t i) {
  std::copy(from.row(i), from.row(i) + from.cols, to.row(j));
}

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

// A shuffled batch is gathered in blocks of rows, over the pool when it holds
// at least this many values (smaller ones cost less than a hand-off).
constexpr std::size_t kGatherRows = 32;
constexpr std::size_t kParallelGather = std::size_t(1) << 14;

template <class T>
FitResult fit(Network<T>& net, const FitData<T>& data, const FitOptions& options,
              Optimizer<T>& optimizer, const FitHooks& hooks) {
  const ConstMatrixView<T> X = data.X, Y = data.Y;
  check_fit_inputs(net, X, Y);
  check_options(options);
  const bool validating = data.X_val.rows != 0;
  if (validating) check_fit_inputs(net, data.X_val, data.Y_val, "X_val", "Y_val");
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
  ThreadPool* pool = options.threads > 1 ? &shared_thread_pool(options.threads) : nullptr;
  optimizer.prepare(options.optimizer, n_params);
  const std::vector<ParamSegment> segments = param_segments(net);
  std::unique_ptr<Validator<T>> validator;
  if (validating) validator = std::make_unique<Validator<T>>(net, data.X_val, data.Y_val);
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
      ConstMatrixView<T> xb = X.rows_range(first, rows), yb = Y.rows_range(first, rows);
      const T* wb = weight != nullptr ? weight + first : nullptr;
      if (shuffled) {
        MatrixView<T> gx(ws.X.data(), rows, X.cols), gy(ws.Y.data(), rows, Y.cols);
        // Copies only: blocks of rows may go to any thread.
        const auto gather = [&](std::size_t block) {
          const std::size_t end = std::min(rows, (block + 1) * kGatherRows);
          for (std::size_t r = block * kGatherRows; r < end; ++r) {
            copy_row<T>(gx, r, X, order[first + r]);
            copy_row<T>(gy, r, Y, order[first + r]);
            if (weight != nullptr) ws.weight.data()[r] = weight[order[first + r]];
          }
        };
        const std::size_t blocks = (rows + kGatherRows - 1) / kGatherRows;
        if (pool != nullptr && blocks > 1 && rows * X.cols >= kParallelGather)
          pool->parallel_for(blocks, std::cref(gather));
        else
          for (std::size_t b = 0; b < blocks; ++b) gather(b);
        xb = gx;
        yb = gy;
        if (weight != nullptr) wb = ws.weight.data();
      }
      const double loss = loss_and_gradient<T>(net, xb, yb, ws, pool, wb);
      if (mean && rows != n) {
        double share = static_cast<double>(rows);
        if (wb != nullptr) share = std::accumulate(wb, wb + rows, 0.0);
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
                                    const char*, const char*);                                 \
  template std::vector<T> class_weights<T>(ConstMatrixView<T>, const std::vector<double>&);    \
  template FitResult fit<T>(Network<T>&, const FitData<T>&, const FitOptions&, Optimizer<T>&,  \
                            const FitHooks&);                                                  \
  template FitResult fit<T>(Network<T>&, InputView<T>, InputView<T>, const FitOptions&,        \
                            const StopCheck&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
