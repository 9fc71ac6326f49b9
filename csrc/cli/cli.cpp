// The command line's subcommands: one function and one usage text each.
#include "cli.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/threads.hpp>

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
    "\n"
    "Train a sigmoid network by full-batch gradient descent and print its\n"
    "accuracy on the test file. With no options: the article's experiment on\n"
    "the bundled Iris data (4-5-3 network, 8000 epochs, learning rate 0.2).\n"
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
    "  -h, --help       show this text\n";

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

// Options of the form --name VALUE or --name=VALUE, in order.
class Options {
 public:
  Options(const std::vector<std::string>& args, std::size_t first) {
    for (std::size_t i = first; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (arg == "-h" || arg == "--help") {
        help = true;
        continue;
      }
      if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
      const std::size_t eq = arg.find('=');
      if (eq != std::string::npos) {
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

  void reject_unknown() const {
    for (const auto& [key, value] : pairs_)
      if (!key.empty()) throw UsageError("unknown option '" + key + "'");
  }

  bool help = false;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

// --- train ---------------------------------------------------------------------------

// A copy of M in precision T.
template <class T>
Matrix<T> converted(const Matrix<double>& M) {
  Matrix<T> result(M.rows(), M.cols());
  for (std::size_t i = 0; i < M.rows(); ++i)
    for (std::size_t j = 0; j < M.cols(); ++j) result(i, j) = static_cast<T>(M(i, j));
  return result;
}

// Train the article's network in precision T; its test accuracy, or -1 when
// interrupted.
template <class T>
double train_and_evaluate(const std::vector<std::size_t>& sizes, std::uint64_t seed,
                          const FitOptions& options, const CsvData& train, const CsvData& test,
                          const Environment& env) {
  const Matrix<T> X = converted<T>(train.X), Y = converted<T>(train.Y);
  const Matrix<T> X_test = converted<T>(test.X);
  Network<T> net(sizes, Activation::Sigmoid, Activation::Sigmoid);
  net.initialize(Init::Uniform, seed);
  if (fit(net, X.view(), Y.view(), options, env.should_stop).stopped) return -1;
  Matrix<T> predictions(X_test.rows(), sizes.back());
  net.predict(X_test.view(), predictions.view());
  return accuracy(ConstMatrixView<T>(predictions.view()), test.Y.view());
}

int cmd_train(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
              const Environment& env) {
  Options opts(args, 1);
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
  opts.reject_unknown();

  constexpr std::size_t kLabels = 3;  // the article's one-hot layout
  const CsvData train = read_csv(train_path, kLabels);
  const CsvData test = read_csv(test_path, kLabels);
  if (test.X.cols() != train.X.cols())
    throw std::invalid_argument(test_path + ": " + std::to_string(test.X.cols()) +
                                " feature columns, but " + train_path + " has " +
                                std::to_string(train.X.cols()));

  std::vector<std::size_t> sizes = {train.X.cols()};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(kLabels);
  const double acc = dtype == "float32"
                         ? train_and_evaluate<float>(sizes, seed, fit_options, train, test, env)
                         : train_and_evaluate<double>(sizes, seed, fit_options, train, test, env);
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
