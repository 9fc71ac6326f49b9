// The command line's subcommands: one function and one usage text each.
#include "cli.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/threads.hpp>
#include <fastmlp/train.hpp>

#ifndef FASTMLP_VERSION
#define FASTMLP_VERSION "unknown"
#endif

namespace fastmlp::cli {
namespace {

// --- usage texts -------------------------------------------------------------------

constexpr const char* kUsage =
    "usage: fastmlp [--help] [--version] COMMAND [ARGS]\n"
    "\n"
    "Train and run dense neural networks (multilayer perceptrons).\n"
    "\n"
    "commands:\n"
    "  train    train a network on a CSV file and print its test accuracy\n"
    "\n"
    "Run 'fastmlp COMMAND --help' for a command's options.\n";

constexpr const char* kTrainUsage =
    "usage: fastmlp train [--train FILE] [--test FILE] [--hidden N[,N...]]\n"
    "                     [--epochs N] [--lr X] [--seed N] [--dtype T] [--threads N]\n"
    "                     [training options] [--quiet]\n"
    "\n"
    "Train a sigmoid network by full-batch gradient descent and print its\n"
    "accuracy on the test file. With no options: the article's experiment on\n"
    "the bundled Iris data (4-5-3 network, 8000 epochs, learning rate 0.2).\n"
    "A run expected to take more than 2 seconds shows its progress on stderr.\n"
    "\n"
    "CSV files: numbers, an optional header row, the last 3 columns one-hot labels.\n"
    "\n"
    "options:\n"
    "  --train FILE     training data (default: the bundled data/train.csv)\n"
    "  --test FILE      test data (default: the bundled data/test.csv)\n"
    "  --hidden N,...   hidden layer widths, comma-separated (default: 5)\n"
    "  --epochs N       passes over the training data (default: 8000)\n"
    "  --lr X           learning rate on the summed gradient (default: 0.2)\n"
    "  --seed N         seed of the weight initialisation (default: 0)\n"
    "  --dtype T        float64 (default) or float32\n"
    "  --threads N      threads for the matrix products (default: the CPUs this\n"
    "                   process may use, or FASTMLP_NUM_THREADS)\n"
    "  -h, --help       show this text\n"
    "\n"
    "training options (defaults: the article's plain gradient descent):\n"
    "  --optimizer NAME       sgd (default), momentum, adam or adamw\n"
    "  --momentum X           momentum: mu (default: 0.9)\n"
    "  --nesterov             momentum: Nesterov's form\n"
    "  --beta1 X, --beta2 X   adam, adamw: moment decays (default: 0.9, 0.999)\n"
    "  --eps X                adam, adamw: added to sqrt(v) (default: 1e-8)\n"
    "  --weight-decay X       adamw: decoupled weight decay (default: 0.01)\n"
    "  --batch-size N         rows per step, reshuffled every epoch (default: all)\n"
    "  --l2 X                 l2 * W added to the weights' gradient (default: 0)\n"
    "  --clip-norm X          clip the gradient's global norm to X (default: off)\n"
    "  --schedule NAME        constant (default), step, invscaling or cosine\n"
    "  --step-size N          step: epochs between decays (default: 10)\n"
    "  --gamma X              step: factor per decay (default: 0.1)\n"
    "  --power-t X            invscaling: exponent (default: 0.5)\n"
    "  --lr-min X             cosine: final rate (default: 0)\n"
    "  --validation-fraction X  hold out this fraction of the training rows\n"
    "                         (drawn from --seed) and report their figures\n"
    "  --early-stopping N     stop after N epochs without improvement of the\n"
    "                         validation loss (or the training loss) by --tol,\n"
    "                         and keep the best parameters\n"
    "  --tol X                early stopping's improvement (default: 1e-4)\n"
    "  --quiet                no progress on stderr\n";

// --- argument parsing ----------------------------------------------------------------

// A mistake in the command line: exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::uint64_t parse_uint(const std::string& option, const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw UsageError(option + ": expected a non-negative integer, got '" + text + "'");
  return value;
}

double parse_real(const std::string& option, const std::string& text) {
  double value = 0;
  if (!parse_number(text, value) || !std::isfinite(value))
    throw UsageError(option + ": expected a finite number, got '" + text + "'");
  return value;
}

std::vector<std::size_t> parse_sizes(const std::string& option, const std::string& text) {
  std::vector<std::size_t> sizes;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::uint64_t width = parse_uint(option, text.substr(start, comma - start));
    if (width == 0) throw UsageError(option + ": layer widths must be positive");
    sizes.push_back(width);
    if (comma == std::string::npos) return sizes;
    start = comma + 1;
  }
}

// Options of the form --name VALUE or --name=VALUE, in order, and `flags`
// of the form --name (no value).
class Options {
 public:
  Options(const std::vector<std::string>& args, std::size_t first,
          const std::vector<std::string>& flags = {}) {
    for (std::size_t i = first; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (arg == "-h" || arg == "--help") {
        help = true;
        continue;
      }
      if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
      const std::size_t eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
        if (eq != std::string::npos) throw UsageError(name + ": takes no value");
        pairs_.emplace_back(arg, "");
      } else if (eq != std::string::npos) {
        pairs_.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
      } else {
        if (i + 1 >= args.size()) throw UsageError(arg + ": missing value");
        pairs_.emplace_back(arg, args[++i]);
      }
    }
  }

  // The value of `name`, or nullptr; takes it, so leftovers can be reported.
  const std::string* take(const std::string& name) {
    const std::string* found = nullptr;
    for (auto& [key, value] : pairs_)
      if (key == name) {
        if (found) throw UsageError(name + ": given twice");
        found = &value;
        key.clear();
      }
    return found;
  }

  // Whether the flag `name` was given.
  bool flag(const std::string& name) { return take(name) != nullptr; }

  void reject_unknown() const {
    for (const auto& [key, value] : pairs_)
      if (!key.empty()) throw UsageError("unknown option '" + key + "'");
  }

  bool help = false;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

// --- train ---------------------------------------------------------------------------

// The training options' flags into `o`; UsageError for a bad value.
void parse_fit_flags(Options& opts, FitOptions& o) {
  const auto real = [&](const char* flag, double& to) {
    if (auto v = opts.take(flag)) to = parse_real(flag, *v);
  };
  if (auto v = opts.take("--optimizer")) o.optimizer.kind = optimizer_from_name(*v);
  real("--momentum", o.optimizer.momentum);
  o.optimizer.nesterov = opts.flag("--nesterov");
  real("--beta1", o.optimizer.beta1);
  real("--beta2", o.optimizer.beta2);
  real("--eps", o.optimizer.eps);
  real("--weight-decay", o.optimizer.weight_decay);
  if (auto v = opts.take("--batch-size")) {
    o.batch_size = parse_uint("--batch-size", *v);
    if (o.batch_size == 0) throw UsageError("--batch-size: expected a positive integer");
  }
  real("--l2", o.l2);
  real("--clip-norm", o.clip_norm);
  if (auto v = opts.take("--schedule")) o.schedule.kind = schedule_from_name(*v);
  if (auto v = opts.take("--step-size")) o.schedule.step_size = parse_uint("--step-size", *v);
  real("--gamma", o.schedule.gamma);
  real("--power-t", o.schedule.power_t);
  real("--lr-min", o.schedule.lr_min);
  if (auto v = opts.take("--early-stopping")) o.early_stopping = parse_uint("--early-stopping", *v);
  real("--tol", o.tol);
  check_optimizer_config(o.optimizer);
  check_schedule(o.schedule);
  if (o.l2 < 0) throw UsageError("--l2: expected a non-negative number");
  if (o.clip_norm < 0) throw UsageError("--clip-norm: expected a non-negative number");
  if (o.tol < 0) throw UsageError("--tol: expected a non-negative number");
}

// A line on stderr, rewritten in place, for runs expected to take more than
// two seconds: the fit's progress hook.
class ProgressLine {
 public:
  // `score`: the name of the validation score (validation_score_name).
  ProgressLine(std::ostream& err, const char* score) : err_(err), score_(score), start_(Clock::now()) {}
  ~ProgressLine() { finish(); }

  bool operator()(const EpochLog& log) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (!shown_ && !log.last &&
        elapsed / static_cast<double>(log.epoch) * static_cast<double>(log.epochs) < 2.0)
      return true;
    if (!shown_ && log.last) return true;  // it ended before it seemed long
    shown_ = true;
    char line[160];
    int len = std::snprintf(line, sizeof line, "\repoch %zu/%zu  loss %.4g", log.epoch, log.epochs, log.loss);
    if (!std::isnan(log.val_loss))
      len += std::snprintf(line + len, sizeof line - static_cast<std::size_t>(len),
                           "  val_loss %.4g  val_%s %.4g", log.val_loss, score_, log.val_score);
    err_ << line << std::flush;
    if (log.last) finish();
    return true;
  }

  // Ends the line, if one was shown.
  void finish() {
    if (shown_) err_ << "\n" << std::flush;
    shown_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& err_;
  const char* score_;
  Clock::time_point start_;
  bool shown_ = false;
};

// The rows `rows` of M.
Matrix<double> select_rows(const Matrix<double>& M, const std::vector<std::size_t>& rows) {
  Matrix<double> result(rows.size(), M.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < M.cols(); ++j) result(i, j) = M(rows[i], j);
  return result;
}

// A copy of M in precision T.
template <class T>
Matrix<T> converted(const Matrix<double>& M) {
  Matrix<T> result(M.rows(), M.cols());
  for (std::size_t i = 0; i < M.rows(); ++i)
    for (std::size_t j = 0; j < M.cols(); ++j) result(i, j) = static_cast<T>(M(i, j));
  return result;
}

// Train the article's network in precision T on `train` (validating on
// `validation` when it has rows); its test accuracy, or -1 when interrupted.
template <class T>
double train_and_evaluate(const std::vector<std::size_t>& sizes, std::uint64_t seed,
                          const FitOptions& options, const CsvData& train,
                          const CsvData& validation, const CsvData& test, const Environment& env,
                          std::ostream* progress) {
  const Matrix<T> X = converted<T>(train.X), Y = converted<T>(train.Y);
  const Matrix<T> X_val = converted<T>(validation.X), Y_val = converted<T>(validation.Y);
  const Matrix<T> X_test = converted<T>(test.X);
  Network<T> net(sizes, Activation::Sigmoid, Activation::Sigmoid);
  net.initialize(Init::Uniform, seed);
  FitData<T> data;
  data.X = X.view();
  data.Y = Y.view();
  data.X_val = X_val.view();
  data.Y_val = Y_val.view();
  FitHooks hooks;
  hooks.should_stop = env.should_stop;
  std::unique_ptr<ProgressLine> line;
  if (progress != nullptr) {
    line = std::make_unique<ProgressLine>(*progress, validation_score_name(net.activation(net.n_layers() - 1)));
    hooks.progress = [&line](const EpochLog& log) { return (*line)(log); };
    hooks.progress_seconds = 0.25;
  }
  Optimizer<T> optimizer;
  if (fit(net, data, options, optimizer, hooks).stopped) return -1;
  Matrix<T> predictions(X_test.rows(), sizes.back());
  net.predict(X_test.view(), predictions.view());
  return accuracy(ConstMatrixView<T>(predictions.view()), test.Y.view());
}

int cmd_train(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
              const Environment& env) {
  Options opts(args, 1, {"--nesterov", "--quiet"});
  if (opts.help) {
    out << kTrainUsage;
    return 0;
  }
  std::string train_path = env.data_dir + "/train.csv";
  std::string test_path = env.data_dir + "/test.csv";
  std::vector<std::size_t> hidden = {5};
  FitOptions fit_options;
  fit_options.threads = default_thread_count();
  std::uint64_t seed = 0;
  if (auto v = opts.take("--train")) train_path = *v;
  if (auto v = opts.take("--test")) test_path = *v;
  if (auto v = opts.take("--hidden")) hidden = parse_sizes("--hidden", *v);
  if (auto v = opts.take("--epochs")) fit_options.epochs = parse_uint("--epochs", *v);
  if (auto v = opts.take("--lr")) fit_options.learning_rate = parse_real("--lr", *v);
  if (auto v = opts.take("--seed")) seed = parse_uint("--seed", *v);
  if (auto v = opts.take("--threads")) {
    const std::uint64_t threads = parse_uint("--threads", *v);
    if (threads < 1 || threads > 1024) throw UsageError("--threads: expected 1 to 1024");
    fit_options.threads = static_cast<int>(threads);
  }
  std::string dtype = "float64";
  if (auto v = opts.take("--dtype")) dtype = *v;
  if (dtype != "float64" && dtype != "float32")
    throw UsageError("--dtype: expected float64 or float32, got '" + dtype + "'");
  double validation_fraction = 0;
  if (auto v = opts.take("--validation-fraction")) {
    validation_fraction = parse_real("--validation-fraction", *v);
    if (!(validation_fraction > 0 && validation_fraction < 1))
      throw UsageError("--validation-fraction: expected a number between 0 and 1 (exclusive)");
  }
  try {
    parse_fit_flags(opts, fit_options);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const bool quiet = opts.flag("--quiet");
  opts.reject_unknown();

  constexpr std::size_t kLabels = 3;  // the article's one-hot layout
  CsvData train = read_csv(train_path, kLabels);
  CsvData validation;
  if (validation_fraction != 0) {
    const RowSplit split = validation_split(train.X.rows(), validation_fraction, seed);
    validation.X = select_rows(train.X, split.validation);
    validation.Y = select_rows(train.Y, split.validation);
    train.X = select_rows(train.X, split.train);
    train.Y = select_rows(train.Y, split.train);
  }
  const CsvData test = read_csv(test_path, kLabels);
  if (test.X.cols() != train.X.cols())
    throw std::invalid_argument(test_path + ": " + std::to_string(test.X.cols()) +
                                " feature columns, but " + train_path + " has " +
                                std::to_string(train.X.cols()));

  std::vector<std::size_t> sizes = {train.X.cols()};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(kLabels);
  fit_options.seed = seed;
  std::ostream* progress = quiet ? nullptr : &err;
  const double acc =
      dtype == "float32"
          ? train_and_evaluate<float>(sizes, seed, fit_options, train, validation, test, env, progress)
          : train_and_evaluate<double>(sizes, seed, fit_options, train, validation, test, env, progress);
  if (acc < 0) {
    err << "fastmlp: interrupted\n";
    return 130;
  }
  char line[64];
  std::snprintf(line, sizeof line, "Accuracy: %.2f%%\n", 100.0 * acc);
  out << line;
  return 0;
}

}  // namespace

// --- dispatch ------------------------------------------------------------------------

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Environment& env) {
  const std::string command = args.empty() ? "" : args[0];
  try {
    if (command.empty() || command == "-h" || command == "--help") {
      (command.empty() ? err : out) << kUsage;
      return command.empty() ? 2 : 0;
    }
    if (command == "--version") {
      out << "fastmlp " << FASTMLP_VERSION << "\n";
      return 0;
    }
    if (command == "train") return cmd_train(args, out, err, env);
    throw UsageError("unknown command '" + command + "' (see 'fastmlp --help')");
  } catch (const UsageError& e) {
    err << "fastmlp " << (command.rfind('-', 0) == 0 ? "" : command + ": ") << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    err << "fastmlp: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    err << "fastmlp: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace fastmlp::cli
