// The epoch loop (fit) and the small steps it calls by name: an epoch's
// batches, the divergence guard, recording the epoch, early stopping and the
// hooks after each epoch. Not the gradient (gradient.cpp) nor the validation
// figures, split and class weights (validation.cpp), which it uses.
#include <fastmlp/train.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

namespace {

// --- checks ---------------------------------------------------------------------------

template <class T>
void check_sample_weight(const T* w, std::size_t n) {
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(w[i] >= 0) || !std::isfinite(w[i]))
      throw std::invalid_argument("sample_weight must be finite and non-negative; found " +
                                  number_text(w[i]) + " at row " + std::to_string(i));
    sum += w[i];
  }
  if (!(sum > 0)) throw std::invalid_argument("sample_weight must not be all zero");
}

// Everything about a fit's data, options and hooks that can be wrong, in the
// order the caller is told: data, then options.
template <class T>
void check_fit(const Network<T>& net, const FitData<T>& data, const FitOptions& options, ThreadPool* pool) {
  if (data.X_csr.empty())
    check_fit_inputs(net, data.X, data.Y, "X", "Y", pool);
  else
    check_fit_inputs(net, data.X_csr, data.Y, "X", "Y", pool);
  check_fit_options(options);
  if (options.class_weight.kind != ClassWeightKind::None &&
      std::string(validation_score_name(net.activation(net.n_layers() - 1))) != "accuracy")
    throw std::invalid_argument(std::string("class_weight needs a classifier's output layer (softmax or sigmoid); "
                                            "this network's is '") +
                                activation_name(net.activation(net.n_layers() - 1)) + "'");
  if (data.X_val.rows != 0) {
    if (data.X_val_csr.empty())
      check_fit_inputs(net, data.X_val, data.Y_val, "X_val", "Y_val", pool);
    else
      check_fit_inputs(net, data.X_val_csr, data.Y_val, "X_val", "Y_val", pool);
    if (options.validation_fraction != 0)
      throw std::invalid_argument("give validation rows or validation_fraction, not both");
  }
  if (data.sample_weight != nullptr) check_sample_weight(data.sample_weight, data.X.rows);
}

// --- the rows a fit trains on -----------------------------------------------------------

// Rows `rows` of M, in that order.
template <class T>
Matrix<T> select_rows(ConstMatrixView<T> M, const std::vector<std::size_t>& rows) {
  Matrix<T> out(rows.size(), M.cols);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy(M.row(rows[i]), M.row(rows[i]) + M.cols, out.view().row(i));
  return out;
}

// The data fit trains and validates on: the caller's, or with
// validation_fraction copies of the rows validation_split gives each side;
// with class_weight, the training rows' weights times their classes'.
template <class T>
class FitRows {
 public:
  FitRows(const FitData<T>& given, const FitOptions& options) : data(given) {
    if (options.validation_fraction != 0) split(options.validation_fraction, options.seed);
    if (options.class_weight.kind != ClassWeightKind::None) weigh(options.class_weight);
  }
  FitRows(const FitRows&) = delete;  // `data` views the members
  FitRows& operator=(const FitRows&) = delete;

  FitData<T> data;

 private:
  void split(double fraction, std::uint64_t seed) {
    const RowSplit rows = validation_split(data.X.rows, fraction, seed);
    if (data.X_csr.empty()) {
      X_ = select_rows(data.X, rows.train);
      X_val_ = select_rows(data.X, rows.validation);
    } else {
      Xs_ = select_rows(data.X_csr, rows.train);
      Xs_val_ = select_rows(data.X_csr, rows.validation);
    }
    Y_ = select_rows(data.Y, rows.train);
    Y_val_ = select_rows(data.Y, rows.validation);
    if (data.sample_weight != nullptr) {
      for (const std::size_t i : rows.train) weight_.push_back(data.sample_weight[i]);
      data.sample_weight = weight_.data();
    }
    data.Y = Y_.view();
    data.Y_val = Y_val_.view();
    if (data.X_csr.empty()) {
      data.X = X_.view();
      data.X_val = X_val_.view();
    } else {
      data.X_csr = Xs_.view();
      data.X_val_csr = Xs_val_.view();
      data.X = ConstMatrixView<T>(nullptr, Xs_.rows, Xs_.cols);
      data.X_val = ConstMatrixView<T>(nullptr, Xs_val_.rows, Xs_val_.cols);
    }
  }

  void weigh(const ClassWeight& by_class) {
    const std::size_t n = data.X.rows;
    std::vector<double> table;  // empty: balanced
    if (by_class.kind == ClassWeightKind::PerClass) {
      table.assign(std::max<std::size_t>(data.Y.cols, 2), 1.0);
      for (const auto& [index, weight] : by_class.per_class) {
        if (index >= table.size())
          throw std::invalid_argument("class_weight's keys must be class indices in [0, " +
                                      std::to_string(table.size() - 1) + "]; got " + std::to_string(index));
        table[index] = weight;
      }
    }
    const std::vector<T> per_row = class_weights<T>(data.Y, table);
    if (data.sample_weight == nullptr) {
      weight_ = per_row;
    } else {
      if (weight_.empty()) weight_.assign(data.sample_weight, data.sample_weight + n);  // not split
      for (std::size_t i = 0; i < n; ++i) weight_[i] = weight_[i] * per_row[i];
    }
    data.sample_weight = weight_.data();
    check_sample_weight(data.sample_weight, n);  // not all zero
  }

  Matrix<T> X_, Y_, X_val_, Y_val_;
  Csr<T> Xs_, Xs_val_;
  std::vector<T> weight_;
};

// --- an epoch's batches -----------------------------------------------------------------

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

// An epoch's optimiser steps, one per batch, with the buffers they need.
template <class T>
class Batches {
 public:
  Batches(const Network<T>& net, const FitData<T>& data, const FitOptions& options, ThreadPool* pool)
      : X_(data.X), X_csr_(data.X_csr), Y_(data.Y), weight_(data.sample_weight), pool_(pool),
        batch_(options.batch_size == 0 ? X_.rows : std::min(options.batch_size, X_.rows)),
        shuffled_(options.shuffle && batch_ < X_.rows), seed_(options.seed),
        guard_(options.stop_on_divergence), clip_log_loss_(options.clip_log_loss), ws_(net, batch_, shuffled_, true, !X_csr_.empty(), net.has_dropout()),
        order_(shuffled_ ? X_.rows : 0), segments_(param_segments(net)) {
    reserve_scratch(net, batch_, true, pool);
    if (weight_ != nullptr) total_weight_ = std::accumulate(weight_, weight_ + X_.rows, 0.0);
  }

  // Epoch `epoch` (counted over fits, for its shuffle): its loss, the sum of
  // its batches' losses under the network's reduction (mean: each batch
  // counting with its share of the rows or their weight); nullopt when `stop`
  // was raised, the batch under way then discarded before its step.
  std::optional<double> run(Network<T>& net, Optimizer<T>& optimizer, const StepOptions& step,
                            std::uint64_t epoch, StopFlag& stop) {
    const std::size_t n = X_.rows;
    const bool mean = net.reduction() == Reduction::Mean;
    if (shuffled_) shuffle_rows(order_, seed_, epoch);
    const DropoutKey masks{seed_, epoch};
    double epoch_loss = 0;
    for (std::size_t first = 0; first < n; first += batch_) {
      const std::size_t rows = std::min(batch_, n - first);
      const Batch<T> b{X_, Y_, weight_, shuffled_ ? order_.data() : nullptr, first, rows, X_csr_,
                       net.has_dropout() ? &masks : nullptr, clip_log_loss_};
      const double loss = batch_gradient(net, b, ws_, pool_, stop);
      if (stop.raised()) return std::nullopt;
      if (mean && rows != n) {
        const double share = weight_ != nullptr ? b.weight_sum() : static_cast<double>(rows);
        epoch_loss += loss * share / total_weight_;
      } else {
        epoch_loss += loss;
      }
      if (guard_ && !std::isfinite(loss)) break;  // the guard restores the epoch's start
      optimizer.step(net.params(), ws_.grads.data(), segments_, step, pool_);
    }
    return epoch_loss;
  }

 private:
  ConstMatrixView<T> X_;
  CsrView<T> X_csr_;
  ConstMatrixView<T> Y_;
  const T* weight_;
  ThreadPool* pool_;
  std::size_t batch_;
  bool shuffled_;
  std::uint64_t seed_;
  bool guard_;
  bool clip_log_loss_;
  Workspace<T> ws_;
  std::vector<std::size_t> order_;
  std::vector<ParamSegment> segments_;
  double total_weight_ = static_cast<double>(X_.rows);
};

// --- after an epoch -----------------------------------------------------------------------

std::string divergence_message(std::size_t epoch, double loss) {
  const std::string what = std::isfinite(loss) ? "the parameters became NaN, infinite or too large to square"
                                               : "the loss became " + std::to_string(loss);
  const std::string kept = epoch == 1 ? "the parameters it had before this fit"
                                      : "its parameters from the end of epoch " + std::to_string(epoch - 1);
  return "training diverged in epoch " + std::to_string(epoch) + " of this fit: " + what +
         "; the network keeps " + kept + " (try a smaller learning_rate, or clip_norm)";
}

// Whether the sum of the squares of p[0, n) is finite in T: false when a
// value is NaN or infinite, or so large that its square overflows (beyond
// about 1.3e154 in double, 1.8e19 in float), where no fit arrives that has
// not diverged (its loss may still be finite: an exp output's logits far
// below zero give a finite, huge Poisson loss and predictions of 0).
template <class T>
bool squares_finite(const T* p, std::size_t n) {
  T lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t e = 0;
  for (; e + 8 <= n; e += 8)
    for (std::size_t q = 0; q < 8; ++q) lane[q] += p[e + q] * p[e + q];
  for (std::size_t q = 0; e + q < n; ++q) lane[q] += p[e + q] * p[e + q];
  T sum = 0;
  for (const T s : lane) sum += s;
  return std::isfinite(sum);
}

// The divergence guard: throws Diverged, with the parameters `start` held at
// the epoch's start put back and the optimiser's state reset (its velocity or
// moments hold the diverged steps, and would spoil every later fit), when
// epoch `epoch` (from 1) ended with a loss NaN or infinite, or parameters
// whose squared norm is not finite.
template <class T>
void check_divergence(Network<T>& net, Optimizer<T>& optimizer, double loss,
                      const AlignedBuffer<T>& start, std::size_t epoch, FitResult& result) {
  T* params = net.params();
  const std::size_t n = net.n_params();
  if (std::isfinite(loss) && squares_finite(params, n)) return;
  std::copy(start.data(), start.data() + n, params);
  optimizer.reset();
  throw Diverged(divergence_message(epoch, loss), epoch, std::move(result));
}

// Ends the fit with InputChanged when a kernel found X or X_val changed (`e`)
// in epoch `epoch` (from 0): the parameters `start` held at the epoch's start
// put back, the result cut to the epochs before it.
template <class T>
[[noreturn]] void input_changed(Network<T>& net, const AlignedBuffer<T>& start, std::size_t epoch,
                                const CsrChanged& e, FitResult& result) {
  std::copy(start.data(), start.data() + net.n_params(), net.params());
  for (std::vector<double>* figures :
       {&result.loss, &result.learning_rate, &result.val_loss, &result.val_score})
    if (figures->size() > epoch) figures->resize(epoch);  // record_epoch may have begun
  result.epochs = epoch;
  const std::string kept = epoch == 0 ? "the parameters it had before this fit"
                                      : "its parameters from the end of epoch " + std::to_string(epoch);
  throw InputChanged(std::string(e.what()) + " (in epoch " + std::to_string(epoch + 1) +
                         " of this fit; the network keeps " + kept + ")",
                     epoch + 1, std::move(result));
}

// An empty result with room for `epochs` epochs' figures (up to a bound: the
// count may be absurd when a hook is meant to end the fit).
FitResult new_result(std::size_t epochs, bool validating) {
  FitResult result;
  const std::size_t reserve = std::min<std::size_t>(epochs, std::size_t(1) << 20);
  result.loss.reserve(reserve);
  result.learning_rate.reserve(reserve);
  if (validating) {
    result.val_loss.reserve(reserve);
    result.val_score.reserve(reserve);
  }
  return result;
}

// Epoch `epoch`'s (from 0) figures, into the result and the log the hooks
// get; the validation figures measured now, with a validator.
template <class T>
EpochLog record_epoch(FitResult& result, std::size_t epoch, std::size_t epochs, double loss,
                      double learning_rate, Validator<T>* validator, const Network<T>& net,
                      ThreadPool* pool) {
  result.loss.push_back(loss);
  result.learning_rate.push_back(learning_rate);
  result.epochs = epoch + 1;
  EpochLog log;
  log.epoch = epoch + 1;
  log.epochs = epochs;
  log.loss = loss;
  log.learning_rate = learning_rate;
  log.val_loss = log.val_score = std::numeric_limits<double>::quiet_NaN();
  if (validator != nullptr) {
    std::tie(log.val_loss, log.val_score) = validator->evaluate(net, pool);
    result.val_loss.push_back(log.val_loss);
    result.val_score.push_back(log.val_score);
  }
  return log;
}

// Early stopping, as scikit-learn's MLP: an epoch improves when its figure
// (the validation loss, else the training loss) is below the best so far by at
// least tol; the best parameters are those of the lowest figure: after the
// epoch for the validation loss (measured then), at its start for the
// training loss (measured on the way through).
template <class T>
class EarlyStopping {
 public:
  EarlyStopping(std::size_t patience, double tol, std::size_t n_params, bool validating)
      : patience_(patience), tol_(tol), validating_(validating), best_(patience > 0 ? n_params : 0) {}

  // After epoch `epoch` (from 0) with figures `log`, the parameters `before`
  // and `after` it: records the best, and says whether the fit ends here.
  bool update(const EpochLog& log, std::size_t epoch, const T* before, const T* after,
              FitResult& result) {
    if (patience_ == 0) return false;
    const double figure = validating_ ? log.val_loss : log.loss;
    since_best_ = figure <= best_figure_ - tol_ ? 0 : since_best_ + 1;
    if (figure < best_figure_) {
      best_figure_ = figure;
      have_best_ = true;
      result.best_epoch = validating_ ? epoch + 1 : epoch;
      const T* source = validating_ ? after : before;
      std::copy(source, source + best_.size(), best_.data());
    }
    return since_best_ >= patience_;
  }

  // The best parameters into `params`, unless the fit was interrupted.
  void restore(T* params, FitResult& result) const {
    if (!have_best_ || result.stopped) return;
    std::copy(best_.data(), best_.data() + best_.size(), params);
    result.restored = true;
  }

 private:
  std::size_t patience_;
  double tol_;
  bool validating_;
  AlignedBuffer<T> best_;
  double best_figure_ = std::numeric_limits<double>::infinity();
  bool have_best_ = false;
  std::size_t since_best_ = 0;
};

// The hooks after an epoch: the callback after every callback_every-th epoch
// and the last, progress once progress_seconds have passed and after the last.
class EpochHooks {
 public:
  EpochHooks(const FitHooks& hooks, std::size_t callback_every)
      : hooks_(hooks), callback_every_(callback_every), last_progress_(Clock::now()) {}

  // False when a hook asks the fit to stop.
  bool call(const EpochLog& log) {
    bool go_on = true;
    if (hooks_.callback && (log.epoch % callback_every_ == 0 || log.last))
      go_on = hooks_.callback(log);
    if (hooks_.progress) {
      const Clock::time_point now = Clock::now();
      if (log.last || std::chrono::duration<double>(now - last_progress_).count() >= hooks_.progress_seconds) {
        last_progress_ = now;
        go_on = hooks_.progress(log) && go_on;
      }
    }
    return go_on;
  }

 private:
  using Clock = std::chrono::steady_clock;
  const FitHooks& hooks_;
  std::size_t callback_every_;
  Clock::time_point last_progress_;
};

}  // namespace

// --- the epoch loop ---------------------------------------------------------------------

template <class T>
FitResult fit(Network<T>& net, const FitData<T>& given, const FitOptions& options,
              Optimizer<T>& optimizer, const FitHooks& hooks) {
  // The pool first, when the thread count is valid: large inputs are checked
  // over it, and bad data is reported before bad options.
  const int threads = resolve_threads(options.threads);
  ThreadPool* pool = threads > 1 && threads <= ThreadPool::kMaxThreads ? &shared_thread_pool(threads)
                                                                        : nullptr;
  check_fit(net, given, options, pool);

  // everything the loop needs, made now
  const FitRows<T> rows(given, options);
  const FitData<T>& data = rows.data;
  const std::size_t n = data.X.rows, n_params = net.n_params();
  Batches<T> batches(net, data, options, pool);
  optimizer.prepare(options.optimizer, n_params);
  std::unique_ptr<Validator<T>> validator;
  if (data.X_val.rows != 0) {
    validator = std::make_unique<Validator<T>>(net, data.X_val, data.Y_val, data.X_val_csr);
    reserve_scratch(net, data.X_val.rows, false, pool);
  }
  EarlyStopping<T> early(options.early_stopping, options.tol, n_params, validator != nullptr);
  // the parameters at the epoch's start, for the divergence guard, the
  // training loss's early stopping and a CSR input that changes under the fit
  const bool reads_csr = !data.X_csr.empty() || !data.X_val_csr.empty();
  AlignedBuffer<T> start(options.stop_on_divergence || (options.early_stopping > 0 && !validator) ||
                                 reads_csr
                             ? n_params : 0);
  T* params = net.params();
  std::copy(params, params + start.size(), start.data());
  EpochHooks after_epoch(hooks, options.callback_every);
  StopFlag stop(&hooks.should_stop);
  StepOptions step;
  step.l2 = options.l2;
  step.clip_norm = options.clip_norm;
  FitResult result = new_result(options.epochs, validator != nullptr);
  // f(), the epoch's batches or its validation, which read X or X_val: a CSR
  // one found changed ends the fit (input_changed).
  const auto reading_input = [&](std::size_t epoch, const auto& f) {
    try {
      return f();
    } catch (const CsrChanged& e) {
      input_changed(net, start, epoch, e, result);
    }
  };

  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    step.learning_rate = scheduled_rate(options.schedule, options.learning_rate, epoch,
                                        options.epochs, n);
    const std::optional<double> loss = reading_input(epoch, [&] {
      return batches.run(net, optimizer, step, options.first_epoch + epoch, stop);
    });
    if (!loss) break;  // interrupted
    if (options.stop_on_divergence) check_divergence(net, optimizer, *loss, start, epoch + 1, result);
    EpochLog log = reading_input(epoch, [&] {
      return record_epoch(result, epoch, options.epochs, *loss, step.learning_rate,
                          validator.get(), net, pool);
    });
    result.early_stopped = early.update(log, epoch, start.data(), params, result);
    std::copy(params, params + start.size(), start.data());
    log.last = result.early_stopped || epoch + 1 == options.epochs;
    result.stopped_by_callback = !after_epoch.call(log);
    if (result.early_stopped || result.stopped_by_callback || stop.poll(0)) break;
  }
  result.stopped = stop.raised();
  early.restore(params, result);
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

// --- reporting --------------------------------------------------------------------------

std::string early_stopping_summary(const FitResult& result) {
  if (!result.early_stopped) return "";
  const bool validating = !result.val_loss.empty();
  const std::string key = validating ? "val_loss" : "loss";
  const std::string stopped = "stopped at epoch " + std::to_string(result.epochs) + "; ";
  if (!result.restored) return stopped + "no epoch was best (" + key + " never a number)";
  double best = std::numeric_limits<double>::infinity();
  for (const double figure : validating ? result.val_loss : result.loss)
    if (figure < best) best = figure;  // NaN never is
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", best);
  return stopped + "best epoch " + std::to_string(result.best_epoch) + " (" + key + " " + text + ")";
}

// --- instantiations ---------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                                 \
  template FitResult fit<T>(Network<T>&, const FitData<T>&, const FitOptions&, Optimizer<T>&,  \
                            const FitHooks&);                                                  \
  template FitResult fit<T>(Network<T>&, InputView<T>, InputView<T>, const FitOptions&,        \
                            const StopCheck&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
