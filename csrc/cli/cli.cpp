// The command line's subcommands: one function and one usage text each, and a
// table of flags per command that one parser reads (a new option is a row in
// its command's table and a line in its usage text).
#include "cli.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <variant>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/io_file.hpp>
#include <fastmlp/io_safetensors.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/options.hpp>
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
    "  train    train a network on a CSV file, print its test accuracy, save it\n"
    "  predict  print a saved network's outputs for the rows of a CSV file\n"
    "  eval     print a saved network's accuracy and confusion matrix on a CSV file\n"
    "\n"
    "Run 'fastmlp COMMAND --help' for a command's options.\n";

constexpr const char* kTrainUsage =
    "usage: fastmlp train [--train FILE] [--test FILE] [--labels N] [--hidden N[,N...]]\n"
    "                     [--seed N] [--dtype T] [network options] [training options]\n"
    "                     [--quiet] [-o FILE] [--history FILE.csv] [--plot FILE.png]\n"
    "\n"
    "Train a network (by default: sigmoid layers, full-batch gradient descent),\n"
    "print its accuracy on the test file, and save it with -o. With no options: the article's\n"
    "experiment on the bundled Iris data (4-5-3 network, 8000 epochs, learning\n"
    "rate 0.2). A run expected to take more than 2 seconds shows its progress\n"
    "on stderr.\n"
    "\n"
    "CSV files: numbers, comma-separated, an optional header row; the label\n"
    "columns last, one-hot (one column per class).\n"
    "\n"
    "options:\n"
    "  --train FILE     training data (default: the bundled data/train.csv)\n"
    "  --test FILE      test data (default: the bundled data/test.csv)\n"
    "  --labels N       label columns at the end of each row (default: 3)\n"
    "  --hidden N,...   hidden layer widths, comma-separated (default: 5)\n"
    "  --seed N         seed of the weight initialisation, the shuffles and the\n"
    "                   validation split (default: 0)\n"
    "  --dtype T        float64 (default) or float32\n"
    "  -o, --save FILE  save the trained network in FILE (a model file, safetensors\n"
    "                   layout; written atomically, never over an input file)\n"
    "  --history FILE   write each epoch's figures to FILE as CSV with a header:\n"
    "                   epoch, loss, learning_rate and, with --validation-fraction,\n"
    "                   val_loss and val_accuracy (or val_r2); written as -o writes\n"
    "  --plot FILE      draw the loss curve (training and validation) into FILE\n"
    "                   (.png, .svg, .pdf); only the Python package's fastmlp\n"
    "                   command does, with matplotlib installed\n"
    "  --quiet          no progress on stderr\n"
    "  -h, --help       show this text\n"
    "\n"
    "network options (defaults: the article's):\n"
    "  --activation NAME[,NAME...]\n"
    "                         hidden layers' activation, one for all or one per\n"
    "                         layer: sigmoid (default), tanh, relu, leaky_relu,\n"
    "                         identity\n"
    "  --output NAME          output layer's activation: sigmoid (default),\n"
    "                         softmax, identity, tanh, relu, leaky_relu\n"
    "  --loss NAME            mse (default) or cross_entropy (with softmax or\n"
    "                         sigmoid outputs)\n"
    "  --reduction NAME       sum (default) or mean over a batch's rows\n"
    "  --init NAME            uniform (default), glorot, he, glorot_normal, he_normal\n"
    "  --leaky-slope X        leaky_relu's slope below zero (default: 0.01)\n"
    "\n"
    "training options (defaults: the article's plain gradient descent; the same\n"
    "options, names and rules as Python's Network.fit):\n";

constexpr const char* kPredictUsage =
    "usage: fastmlp predict MODEL DATA.csv [--classes] [--labels N] [--threads N]\n"
    "\n"
    "Print the outputs of the network saved in MODEL for every row of DATA.csv,\n"
    "as CSV on standard output: a row per input row, a column per output, each\n"
    "value with the shortest digits that read back to the same number in the\n"
    "network's dtype. Rows stream through: files of any length take little memory.\n"
    "\n"
    "DATA.csv holds the network's inputs, optionally followed by label columns,\n"
    "which are ignored.\n"
    "\n"
    "options:\n"
    "  --classes        print each row's predicted class instead: the index of its\n"
    "                   largest output (a single output: 1 above 0.5, else 0,\n"
    "                   whatever the output layer)\n"
    "  --labels N       label columns that may follow the inputs (default: as many\n"
    "                   as the network has outputs)\n"
    "  --threads N      threads for the matrix products (default: the CPUs this\n"
    "                   process may use, or FASTMLP_NUM_THREADS)\n"
    "  -h, --help       show this text\n";

constexpr const char* kEvalUsage =
    "usage: fastmlp eval MODEL DATA.csv [--labels N] [--threads N] [--plot FILE.png]\n"
    "\n"
    "Print the accuracy of the network saved in MODEL on DATA.csv as\n"
    "'Accuracy: NN.NN%', then its confusion matrix: a row per true class, a\n"
    "column per predicted class, each cell a count of rows.\n"
    "\n"
    "DATA.csv holds the network's inputs followed by the labels: one-hot, a\n"
    "column per output (the class is the largest), or a single column of class\n"
    "indices 0, 1, ... A network's predicted class is as 'fastmlp predict\n"
    "--classes' prints it.\n"
    "\n"
    "options:\n"
    "  --labels N       label columns at the end of each row: the network's\n"
    "                   outputs (default) or 1\n"
    "  --threads N      threads for the matrix products (default: the CPUs this\n"
    "                   process may use, or FASTMLP_NUM_THREADS)\n"
    "  --plot FILE      draw the confusion matrix into FILE (.png, .svg, .pdf);\n"
    "                   only the Python package's fastmlp command does, with\n"
    "                   matplotlib installed\n"
    "  -h, --help       show this text\n";

// --- argument parsing ----------------------------------------------------------------

// A mistake in the command line: exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The user interrupted a command (Ctrl-C): exit status 130.
struct Interrupted {};

// Standard output refused a write (a full disk, a closed descriptor or pipe):
// exit status 1. `error` is the errno of the failed write.
struct OutputLost {
  int error;
};

std::uint64_t parse_uint(const std::string& option, const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw UsageError(option + ": expected a non-negative integer, got " + in_quotes(text));
  return value;
}

double parse_real(const std::string& option, const std::string& text) {
  double value = 0;
  if (!parse_number(text, value) || !std::isfinite(value))
    throw UsageError(option + ": expected a finite number, got " + in_quotes(text));
  return value;
}

// The comma-separated parts of `text` ("a,b" -> {"a", "b"}; "" -> {""}).
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

std::vector<std::size_t> parse_sizes(const std::string& option, const std::string& text) {
  std::vector<std::size_t> sizes;
  for (const std::string& part : split_commas(text)) {
    const std::uint64_t width = parse_uint(option, part);
    if (width == 0) throw UsageError(option + ": layer widths must be positive");
    sizes.push_back(width);
  }
  return sizes;
}

// One option of a command: its names, whether a value follows it, and what
// to do with that value ("" for a switch).
struct Flag {
  std::string name;   // "--epochs"
  const char* alias;  // "-o", or nullptr
  bool takes_value;
  std::function<void(const std::string& value)> apply;
};

// Applies the options in args[1...] (args[0] is the command) as `flags` say:
// --name VALUE, --name=VALUE, -o VALUE, switches; "--" ends the options.
// Returns the other arguments, in order, or nullopt when help was asked for.
std::optional<std::vector<std::string>> parse(const std::vector<std::string>& args,
                                              const std::vector<Flag>& flags) {
  for (std::size_t i = 1; i < args.size() && args[i] != "--"; ++i)
    if (args[i] == "-h" || args[i] == "--help") return std::nullopt;
  std::vector<std::string> positional;
  std::set<std::string> seen;  // flags given, a switch's --no- form as the switch
  bool options_done = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg, value;
    const std::size_t eq = arg.find('=');
    const bool inline_value = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const auto flag = std::find_if(flags.begin(), flags.end(), [&](const Flag& f) {
      return name == f.name || (f.alias != nullptr && name == f.alias);
    });
    if (flag == flags.end()) throw UsageError("unknown option " + in_quotes(name));
    const std::string key = flag->name.rfind("--no-", 0) == 0 ? "--" + flag->name.substr(5) : flag->name;
    if (!seen.insert(key).second) throw UsageError(key + ": given twice");
    if (flag->takes_value && !inline_value) {
      if (i + 1 >= args.size()) throw UsageError(name + ": missing value");
      value = args[++i];
    } else if (!flag->takes_value && inline_value) {
      throw UsageError(flag->name + ": takes no value");
    }
    try {
      flag->apply(value);
    } catch (const std::invalid_argument& e) {  // a value the core's tables refuse
      throw UsageError(name + ": " + e.what());
    }
  }
  return positional;
}

// The options several commands share.
Flag threads_flag(int& threads) {
  return {"--threads", nullptr, true, [&threads](const std::string& v) {
            const OptionSpec& spec = *find_fit_option("threads");
            FitOptions o;
            set_fit_option(o, spec, parse_option_text(spec, v));
            threads = o.threads;
          }};
}

Flag labels_flag(std::optional<std::size_t>& labels) {
  return {"--labels", nullptr, true, [&labels](const std::string& v) {
            const std::uint64_t n = parse_uint("--labels", v);
            if (n > (std::uint64_t(1) << 32)) throw UsageError("--labels: too many");
            labels = static_cast<std::size_t>(n);
          }};
}

// --plot, which the Python package's console script takes out of the
// arguments before they get here: drawing is matplotlib's.
// --plot FILE into `path`, checked by the front door's plotter (a usage error
// when it cannot draw).
Flag plot_flag(std::string& path, const Environment& env) {
  return {"--plot", nullptr, true, [&path, &env](const std::string& v) {
            if (!env.plot.draw)
              throw UsageError("--plot: drawing needs the Python package's fastmlp command "
                               "(pip install \"fastmlp[plot]\"); this program has no plotting");
            if (v.empty()) throw UsageError("--plot: expected a file name");
            const std::string why = env.plot.check(v);
            if (!why.empty()) throw UsageError("--plot: " + why);
            path = v;
          }};
}

// The image of `kind` drawn by the front door, written as -o writes.
void draw_plot(const Environment& env, const std::string& path, const char* kind,
               const std::vector<std::string>& names, const Matrix<double>& table) {
  write_file_atomically(path, env.plot.draw(path, kind, names, table));
}

// What `train` builds: each layer's activation, the loss, the initialisation.
// The defaults are the article's network.
struct NetworkSpec {
  std::vector<std::string> hidden = {"sigmoid"};  // one for all hidden layers, or one each
  std::string output = "sigmoid";
  Loss loss = Loss::Mse;
  Reduction reduction = Reduction::Sum;
  Init init = Init::Uniform;
  double leaky_slope = Activation::kDefaultSlope;

  // One activation per dense layer of a network with `n_hidden` hidden layers.
  std::vector<Activation> activations(std::size_t n_hidden) const {
    if (hidden.size() != 1 && hidden.size() != n_hidden)
      throw UsageError("--activation: " + std::to_string(hidden.size()) + " names for " +
                       std::to_string(n_hidden) + " hidden layers (give one, or one per layer)");
    std::vector<Activation> layers;
    for (std::size_t l = 0; l < n_hidden; ++l)
      layers.push_back(activation_from_name(hidden[hidden.size() == 1 ? 0 : l], "--activation", false));
    layers.push_back(activation_from_name(output, "--output", true));
    return layers;
  }
};

std::vector<Flag> network_flags(NetworkSpec& spec) {
  return {
      {"--activation", nullptr, true,
       [&spec](const std::string& v) {
         spec.hidden = split_commas(v);
         for (const std::string& name : spec.hidden) activation_from_name(name, "activation", false);
       }},
      {"--output", nullptr, true,
       [&spec](const std::string& v) { activation_from_name(spec.output = v, "output", true); }},
      {"--loss", nullptr, true, [&spec](const std::string& v) { spec.loss = loss_from_name(v); }},
      {"--reduction", nullptr, true,
       [&spec](const std::string& v) { spec.reduction = reduction_from_name(v); }},
      {"--init", nullptr, true, [&spec](const std::string& v) { spec.init = init_from_name(v); }},
      {"--leaky-slope", nullptr, true,
       [&spec](const std::string& v) {
         spec.leaky_slope = parse_real("--leaky-slope", v);
         if (spec.leaky_slope < 0) throw UsageError("--leaky-slope: expected a number >= 0");
       }},
  };
}


// The training options' flags, into `o`: one per row of the core's table
// (--name-with-dashes, and --no-name for a switch), each value checked as
// Network.fit checks it.
std::vector<Flag> fit_flags(FitOptions& o) {
  std::vector<Flag> flags;
  for (const OptionSpec& spec : fit_option_table()) {
    if (!spec.on_command_line) continue;
    std::string flag = std::string("--") + spec.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    const OptionSpec* row = &spec;
    if (spec.kind == OptionKind::Flag) {
      for (const bool on : {true, false})
        flags.push_back({on ? flag : "--no-" + flag.substr(2), nullptr, false,
                         [&o, row, on](const std::string&) {
                           set_fit_option(o, *row, parse_option_text(*row, on ? "true" : "false"));
                         }});
    } else {
      flags.push_back({flag, spec.alias, true, [&o, row](const std::string& v) {
                         set_fit_option(o, *row, parse_option_text(*row, v));
                       }});
    }
  }
  return flags;
}

// The MODEL and DATA.csv arguments of predict and eval, after the options in
// `flags`; nullopt when help was asked for (and `usage` printed).
std::optional<std::array<std::string, 2>> model_and_data(const std::vector<std::string>& args,
                                                         const std::vector<Flag>& flags,
                                                         const char* usage, std::ostream& out) {
  const auto positional = parse(args, flags);
  if (!positional) {
    out << usage;
    return std::nullopt;
  }
  if (positional->size() < 2) throw UsageError("expected MODEL and DATA.csv");
  if (positional->size() > 2) throw UsageError("unexpected argument " + in_quotes((*positional)[2]));
  return std::array<std::string, 2>{(*positional)[0], (*positional)[1]};
}

ThreadPool* pool_for(int threads) {
  threads = resolve_threads(threads);
  return threads > 1 ? &shared_thread_pool(threads) : nullptr;
}

// --- data --------------------------------------------------------------------------

// A copy of M in precision T.
template <class T>
Matrix<T> converted(const Matrix<double>& M) {
  Matrix<T> result(M.rows(), M.cols());
  for (std::size_t i = 0; i < M.rows(); ++i)
    for (std::size_t j = 0; j < M.cols(); ++j) result(i, j) = static_cast<T>(M(i, j));
  return result;
}

// A CSV file's rows streamed in blocks: each block's first `features` columns
// in precision T, and its rows as read.
class CsvBlocks {
 public:
  // `stop` is polled before each block: true ends the command (Interrupted).
  CsvBlocks(const std::string& path, StopCheck stop) : path_(path), stop_(std::move(stop)) {
    open_csv(in_, path);
    reader_.emplace(in_, path);
    // Up to 1024 rows and 8 MiB a block, whatever the width of the rows.
    const std::size_t columns = std::max<std::size_t>(reader_->columns(), 1);
    block_rows_ = std::clamp<std::size_t>((std::size_t(8) << 20) / (8 * columns), 1, 1024);
    raw_ = Matrix<double>(block_rows_, columns);
  }

  std::size_t block_rows() const { return block_rows_; }
  std::size_t columns() const { return reader_->columns(); }
  const std::vector<std::string>& header() const { return reader_->header(); }

  // The next block's rows (0 at the end); its values are row(i).
  std::size_t next() {
    if (stop_ && stop_()) throw Interrupted{};
    rows_done_ += rows_;
    rows_ = columns() == 0 ? 0 : reader_->read(raw_.data(), block_rows_);
    if (rows_done_ + rows_ == 0) throw std::invalid_argument(path_ + ": no data rows");
    return rows_;
  }
  const double* row(std::size_t i) const { return raw_.data() + i * raw_.cols(); }

  // The first `features` columns of the block's rows, into X (block_rows, features);
  // a value that overflows T is an error naming its row and column.
  template <class T>
  void features(Matrix<T>& X) const {
    for (std::size_t i = 0; i < rows_; ++i)
      for (std::size_t j = 0; j < X.cols(); ++j) {
        X(i, j) = static_cast<T>(row(i)[j]);
        if (!std::isfinite(X(i, j)))
          throw std::invalid_argument(path_ + ", data row " + std::to_string(rows_done_ + i + 1) +
                                      ", column " + std::to_string(j + 1) +
                                      ": out of the range of float32");
      }
  }

  std::size_t first_row() const { return rows_done_; }  // of this block, from 0

 private:
  std::string path_;
  StopCheck stop_;
  std::ifstream in_;
  std::optional<CsvReader> reader_;
  Matrix<double> raw_;
  std::size_t block_rows_ = 1, rows_ = 0, rows_done_ = 0;
};

// The loaded model in `path`, with its network's precision T given to `f`.
template <class F>
auto with_model(const std::string& path, F&& f) {
  Model model = load(path);
  return std::visit([&](auto& net) { return f(net); }, model.network);
}

// Appends `value` with the fewest digits that read back to it (in T).
template <class T>
void append_number(std::string& text, T value) {
  char digits[kMaxNumberChars];
  text.append(digits, format_number(value, digits));
}

void write_out(std::ostream& out, const std::string& text) {
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw OutputLost{errno};
}

// Flush `out`: OutputLost unless everything written to it arrived, so that no
// command reports success with its output lost.
void finish_output(std::ostream& out) {
  out.flush();
  if (!out) throw OutputLost{errno};
}

// --- train ---------------------------------------------------------------------------

// Whether `a` and `b` name the same existing file.
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

// Before any work: UsageError when the file `flag` names would replace one of
// `inputs`, FileError when it cannot be written there (check_replaceable).
void check_output(const char* flag, const std::string& path, const std::vector<std::string>& inputs) {
  if (path == "-")
    throw UsageError(std::string(flag) + ": '-' would be standard output, which this file cannot go to; "
                     "give a file name (./- for a file named -)");
  for (const std::string& input : inputs)
    if (same_file(path, input))
      throw UsageError(std::string(flag) + ": " + in_quotes(path, 256) + " is the input file " +
                       in_quotes(input, 256) + "; refusing to overwrite it");
  check_replaceable(path);
}

// UsageError when `flag`'s file is also another output (`other`, described by
// `other_what`), even before either exists.
void check_distinct(const char* flag, const std::string& path, const char* other_what,
                    const std::string& other) {
  if (path.empty() || other.empty()) return;
  std::error_code ec1, ec2;
  if (std::filesystem::weakly_canonical(fs_path(path), ec1) == std::filesystem::weakly_canonical(fs_path(other), ec2) &&
      !ec1 && !ec2)
    throw UsageError(std::string(flag) + ": " + in_quotes(path, 256) + " is also " + other_what +
                     "; refusing to overwrite it");
}

// A fit's figures, a row per epoch, in columns named as Network.history's
// keys (with "epoch" first).
struct History {
  std::vector<std::string> names;
  Matrix<double> table;
};

History history_of(const FitResult& result, const char* score) {
  History h;
  h.names = {"epoch", "loss", "learning_rate"};
  std::vector<const std::vector<double>*> columns = {&result.loss, &result.learning_rate};
  if (!result.val_loss.empty()) {  // validation
    h.names.insert(h.names.end(), {"val_loss", std::string("val_") + score});
    columns.insert(columns.end(), {&result.val_loss, &result.val_score});
  }
  h.table = Matrix<double>(result.loss.size(), h.names.size());
  for (std::size_t e = 0; e < result.loss.size(); ++e) {
    h.table(e, 0) = static_cast<double>(e + 1);
    for (std::size_t j = 0; j < columns.size(); ++j) h.table(e, j + 1) = (*columns[j])[e];
  }
  return h;
}

// The history as CSV with a header; every value with the digits that read
// back to it. Written atomically.
void write_history(const std::string& path, const History& h) {
  std::string text;
  for (std::size_t j = 0; j < h.names.size(); ++j) text += (j ? "," : "") + h.names[j];
  text += '\n';
  for (std::size_t e = 0; e < h.table.rows(); ++e) {
    text += std::to_string(e + 1);
    for (std::size_t j = 1; j < h.names.size(); ++j) {
      text += ',';
      append_number(text, h.table(e, j));
    }
    text += '\n';
  }
  write_file_atomically(path, text);
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

// The CSV file at `path` (- is standard input) read whole; Ctrl-C while it
// reads (which ends a read of standard input early) interrupts the command
// instead of training on what was read.
CsvData read_csv_or_stop(const std::string& path, std::size_t n_labels, const Environment& env) {
  auto stopped = [&env] { return env.should_stop && env.should_stop(); };
  try {
    CsvData data = read_csv(path, n_labels);
    if (stopped()) throw Interrupted{};
    return data;
  } catch (const std::exception&) {
    if (stopped()) throw Interrupted{};
    throw;
  }
}

// Where `train` writes: the model file, the history and its plot, each "" for none.
struct TrainOutputs {
  std::string model, history, plot;
};

// Train the article's network in precision T on `train` (the fit holds out
// --validation-fraction's rows and weighs them by class itself), write
// `outputs`; its test accuracy.
template <class T>
double train_and_evaluate(const std::vector<std::size_t>& sizes, const NetworkSpec& spec,
                          std::uint64_t seed, const FitOptions& options, const CsvData& train,
                          const CsvData& test, const TrainOutputs& outputs, const Environment& env,
                          std::ostream* progress) {
  const Matrix<T> X = converted<T>(train.X), Y = converted<T>(train.Y);
  const Matrix<T> X_test = converted<T>(test.X);
  Network<T> net(sizes, spec.activations(sizes.size() - 2), spec.loss, spec.reduction,
                 spec.leaky_slope);
  net.initialize(spec.init, seed);
  FitData<T> data;
  data.X = X.view();
  data.Y = Y.view();
  FitHooks hooks;
  hooks.should_stop = env.should_stop;
  std::unique_ptr<ProgressLine> line;
  const char* score = validation_score_name(net.activation(net.n_layers() - 1));
  if (progress != nullptr) {
    line = std::make_unique<ProgressLine>(*progress, score);
    hooks.progress = [&line](const EpochLog& log) { return (*line)(log); };
    hooks.progress_seconds = 0.25;
  }
  Optimizer<T> optimizer;
  const FitResult result = fit(net, data, options, optimizer, hooks);
  if (result.stopped) throw Interrupted{};
  if (!outputs.model.empty())
    save(net, outputs.model, ModelInfo{spec.init, seed});
  const History history = history_of(result, score);
  if (!outputs.history.empty()) write_history(outputs.history, history);
  if (!outputs.plot.empty()) {
    if (result.epochs == 0) throw std::runtime_error("--plot: no epochs to draw (--epochs 0)");
    draw_plot(env, outputs.plot, "loss", history.names, history.table);
  }
  Matrix<T> predictions(X_test.rows(), sizes.back());
  net.predict(X_test.view(), predictions.view());
  return accuracy(ConstMatrixView<T>(predictions.view()), test.Y.view());
}

int cmd_train(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
              const Environment& env) {
  std::string train_path = env.data_dir + "/train.csv";
  std::string test_path = env.data_dir + "/test.csv";
  TrainOutputs outputs;
  std::vector<std::size_t> hidden = {5};
  FitOptions fit_options;
  std::uint64_t seed = 0;
  std::optional<std::size_t> labels;
  std::string dtype = "float64";
  bool quiet = false;
  std::vector<Flag> flags = {
      {"--train", nullptr, true, [&](const std::string& v) { train_path = v; }},
      {"--test", nullptr, true, [&](const std::string& v) { test_path = v; }},
      labels_flag(labels),
      {"--hidden", nullptr, true, [&](const std::string& v) { hidden = parse_sizes("--hidden", v); }},
      {"--seed", nullptr, true, [&](const std::string& v) { seed = parse_uint("--seed", v); }},
      {"--dtype", nullptr, true,
       [&](const std::string& v) {
         if (v != "float64" && v != "float32")
           throw UsageError("--dtype: expected float64 or float32, got " + in_quotes(v));
         dtype = v;
       }},
      {"--quiet", nullptr, false, [&](const std::string&) { quiet = true; }},
      {"--save", "-o", true, [&](const std::string& v) { outputs.model = v; }},
      {"--history", nullptr, true, [&](const std::string& v) { outputs.history = v; }},
      plot_flag(outputs.plot, env),
  };
  NetworkSpec spec;
  for (Flag& f : network_flags(spec)) flags.push_back(std::move(f));
  for (Flag& f : fit_flags(fit_options)) flags.push_back(std::move(f));
  const auto positional = parse(args, flags);
  if (!positional) {
    out << kTrainUsage << fit_options_help();
    return 0;
  }
  if (!positional->empty()) throw UsageError("unexpected argument " + in_quotes(positional->front()));
  try {
    check_fit_options(fit_options);
    check_loss_output(spec.loss, spec.activations(hidden.size()).back());
    if (dtype == "float32") check_leaky_slope<float>(spec.leaky_slope);
    else check_leaky_slope<double>(spec.leaky_slope);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const std::size_t n_labels = labels.value_or(3);  // the article's one-hot layout
  if (n_labels == 0) throw UsageError("--labels: a network needs at least 1 label column");
  try {
    check_output_units(spec.activations(hidden.size()).back(), n_labels);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (train_path == "-" && test_path == "-")
    throw UsageError("--train and --test cannot both read standard input (-)");
  if (!outputs.model.empty()) check_output("-o", outputs.model, {train_path, test_path});
  if (!outputs.history.empty()) check_output("--history", outputs.history, {train_path, test_path});
  if (!outputs.plot.empty()) check_output("--plot", outputs.plot, {train_path, test_path});
  check_distinct("--history", outputs.history, "-o's model file", outputs.model);
  check_distinct("--plot", outputs.plot, "-o's model file", outputs.model);
  check_distinct("--plot", outputs.plot, "--history's file", outputs.history);

  const CsvData train = read_csv_or_stop(train_path, n_labels, env);
  const CsvData test = read_csv_or_stop(test_path, n_labels, env);
  if (test.X.cols() != train.X.cols())
    throw std::invalid_argument(test_path + ": " + std::to_string(test.X.cols()) +
                                " feature columns, but " + train_path + " has " +
                                std::to_string(train.X.cols()));

  std::vector<std::size_t> sizes = {train.X.cols()};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(n_labels);
  fit_options.seed = seed;
  std::ostream* progress = quiet ? nullptr : &err;
  const double acc =
      dtype == "float32"
          ? train_and_evaluate<float>(sizes, spec, seed, fit_options, train, test, outputs, env, progress)
          : train_and_evaluate<double>(sizes, spec, seed, fit_options, train, test, outputs, env, progress);
  char line[64];
  std::snprintf(line, sizeof line, "Accuracy: %.2f%%\n", 100.0 * acc);
  write_out(out, line);
  return 0;
}

// --- predict --------------------------------------------------------------------------

// The label columns after the inputs in `data`'s rows for `net`: none when it
// has exactly the inputs' columns, `labels` when it has that many more.
template <class T>
std::size_t label_columns(const Network<T>& net, const CsvBlocks& data, const std::string& path,
                          std::size_t labels) {
  const std::size_t columns = data.columns(), inputs = net.n_inputs();
  if (columns == inputs) return 0;
  if (columns == inputs + labels) return labels;
  throw std::invalid_argument(path + ": " + std::to_string(columns) + " columns, but the network takes " +
                              std::to_string(inputs) + " inputs (optionally followed by " +
                              std::to_string(labels) + " label columns; see --labels)");
}

template <class T>
void predict_csv(const Network<T>& net, const std::string& path, std::optional<std::size_t> labels,
                 bool classes, int threads, std::ostream& out, const Environment& env) {
  CsvBlocks data(path, env.should_stop);
  if (data.columns() != 0) label_columns(net, data, path, labels.value_or(net.n_outputs()));
  Matrix<T> X(data.block_rows(), net.n_inputs()), P(data.block_rows(), net.n_outputs());
  const std::string rows_of = path + ", data";
  std::string text;
  while (const std::size_t n = data.next()) {
    data.features(X);
    net.predict(X.view().rows_range(0, n), P.view().rows_range(0, n), pool_for(threads));
    text.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const T* p = P.data() + i * P.cols();
      if (classes) {
        text += std::to_string(predicted_class_of_row(p, P.cols(), rows_of, data.first_row() + i + 1));
      } else {
        for (std::size_t j = 0; j < P.cols(); ++j) {
          if (j > 0) text += ',';
          append_number(text, p[j]);
        }
      }
      text += '\n';
    }
    write_out(out, text);
  }
}

int cmd_predict(const std::vector<std::string>& args, std::ostream& out, std::ostream&,
                const Environment& env) {
  bool classes = false;
  std::optional<std::size_t> labels;
  int threads = default_thread_count();
  const std::vector<Flag> flags = {
      {"--classes", nullptr, false, [&](const std::string&) { classes = true; }},
      labels_flag(labels),
      threads_flag(threads),
  };
  const auto files = model_and_data(args, flags, kPredictUsage, out);
  if (!files) return 0;
  const std::string &model = (*files)[0], &data = (*files)[1];
  with_model(model, [&](const auto& net) {
    predict_csv(net, data, labels, classes, threads, out, env);
    return 0;
  });
  return 0;
}

// --- eval -----------------------------------------------------------------------------

// The most classes whose confusion matrix is printed (it has classes^2 cells),
// and drawn (a larger one is unreadable and slow to draw).
constexpr std::size_t kMaxConfusionClasses = 1000;
constexpr std::size_t kMaxPlotClasses = 100;

// Counts of (true class, predicted class) over a data set.
struct Evaluation {
  std::size_t classes = 0, rows = 0, correct = 0;
  std::vector<std::size_t> confusion;  // classes x classes, row-major; empty past kMaxConfusionClasses
  std::vector<std::string> names;      // a name per class
};

template <class T>
Evaluation evaluate_csv(const Network<T>& net, const std::string& path,
                        std::optional<std::size_t> labels_option, int threads,
                        const Environment& env) {
  const std::size_t k = net.n_outputs();
  const std::size_t labels = labels_option.value_or(k);
  if (labels != k && labels != 1)
    throw UsageError("--labels: expected " + std::to_string(k) +
                     " (one-hot, a column per output) or 1 (class indices)");
  CsvBlocks data(path, env.should_stop);
  if (data.columns() != 0 && data.columns() != net.n_inputs() + labels)
    throw std::invalid_argument(path + ": " + std::to_string(data.columns()) +
                                " columns, but the network's " + std::to_string(net.n_inputs()) +
                                " inputs and " + std::to_string(labels) + " label column(s) make " +
                                std::to_string(net.n_inputs() + labels));
  const bool one_hot = labels > 1;  // else one column of class indices
  Evaluation e;
  e.classes = std::max<std::size_t>(k, 2);
  if (e.classes <= kMaxConfusionClasses) e.confusion.assign(e.classes * e.classes, 0);
  const std::vector<std::string>& header = data.header();
  for (std::size_t c = 0; c < e.classes; ++c)
    e.names.push_back(one_hot && !header.empty() && header.size() == data.columns()
                          ? header[net.n_inputs() + c]
                          : std::to_string(c));  // an empty file has neither header nor columns

  Matrix<T> X(data.block_rows(), net.n_inputs()), P(data.block_rows(), k);
  const std::string rows_of = path + ", data";
  while (const std::size_t n = data.next()) {
    data.features(X);
    net.predict(X.view().rows_range(0, n), P.view().rows_range(0, n), pool_for(threads));
    for (std::size_t i = 0; i < n; ++i) {
      const double* y = data.row(i) + net.n_inputs();
      std::size_t truth;
      if (one_hot) {
        truth = true_class_of_row(y, labels, rows_of, data.first_row() + i + 1);
      } else {
        if (!(y[0] >= 0 && y[0] < double(e.classes) && y[0] == std::floor(y[0])))
          throw std::invalid_argument(path + ", data row " + std::to_string(data.first_row() + i + 1) +
                                      ": label " + std::to_string(y[0]) +
                                      " is not a class index from 0 to " +
                                      std::to_string(e.classes - 1));
        truth = static_cast<std::size_t>(y[0]);
      }
      const std::size_t predicted =
          predicted_class_of_row(P.data() + i * k, k, rows_of, data.first_row() + i + 1);
      e.correct += truth == predicted;
      if (!e.confusion.empty()) ++e.confusion[truth * e.classes + predicted];
    }
    e.rows += n;
  }
  return e;
}

// The evaluation as text: the accuracy line, then the confusion matrix with
// right-aligned columns.
std::string report(const Evaluation& e) {
  char line[64];
  std::snprintf(line, sizeof line, "Accuracy: %.2f%%\n", 100.0 * double(e.correct) / double(e.rows));
  std::string text = line;
  if (e.confusion.empty())
    return text + "(no confusion matrix: more than " + std::to_string(kMaxConfusionClasses) +
           " classes)\n";
  text += "Confusion matrix (rows: true class, columns: predicted class):\n";
  std::size_t first = 0, width = 0;
  for (std::size_t c = 0; c < e.classes; ++c) {
    first = std::max(first, e.names[c].size());
    width = std::max(width, e.names[c].size());
  }
  width = std::max(width, std::to_string(e.rows).size());
  auto pad = [&text](const std::string& s, std::size_t w) { text.append(w - std::min(w, s.size()), ' ') += s; };
  pad("", first);
  for (std::size_t c = 0; c < e.classes; ++c) pad(e.names[c], width + 2);
  text += '\n';
  for (std::size_t t = 0; t < e.classes; ++t) {
    text += e.names[t];
    text.append(first - e.names[t].size(), ' ');
    for (std::size_t p = 0; p < e.classes; ++p) pad(std::to_string(e.confusion[t * e.classes + p]), width + 2);
    text += '\n';
  }
  return text;
}

int cmd_eval(const std::vector<std::string>& args, std::ostream& out, std::ostream&,
             const Environment& env) {
  std::optional<std::size_t> labels;
  int threads = default_thread_count();
  std::string plot;
  const std::vector<Flag> flags = {labels_flag(labels), threads_flag(threads), plot_flag(plot, env)};
  const auto files = model_and_data(args, flags, kEvalUsage, out);
  if (!files) return 0;
  const std::string &model = (*files)[0], &data = (*files)[1];
  if (!plot.empty()) check_output("--plot", plot, {model, data});
  const Evaluation e = with_model(model, [&](const auto& net) {
    return evaluate_csv(net, data, labels, threads, env);
  });
  write_out(out, report(e));
  if (!plot.empty()) {
    if (e.classes > kMaxPlotClasses)
      throw std::runtime_error("--plot: " + std::to_string(e.classes) + " classes are too many to draw (at most " +
                               std::to_string(kMaxPlotClasses) + ")");
    Matrix<double> counts(e.classes, e.classes);
    for (std::size_t i = 0; i < e.classes * e.classes; ++i) counts.data()[i] = static_cast<double>(e.confusion[i]);
    draw_plot(env, plot, "confusion", e.names, counts);
  }
  return 0;
}

// --- the commands ------------------------------------------------------------------------

using Command = int (*)(const std::vector<std::string>&, std::ostream&, std::ostream&,
                        const Environment&);

struct CommandEntry {
  const char* name;
  Command run;
};

constexpr CommandEntry kCommands[] = {
    {"train", cmd_train},
    {"predict", cmd_predict},
    {"eval", cmd_eval},
};

}  // namespace

// --- dispatch ------------------------------------------------------------------------

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Environment& env) {
  const std::string command = args.empty() ? "" : args[0];
  try {
    int status = 0;
    if (command.empty() || command == "-h" || command == "--help") {
      (command.empty() ? err : out) << kUsage;
      status = command.empty() ? 2 : 0;
    } else if (command == "--version") {
      out << "fastmlp " << FASTMLP_VERSION << "\n";
    } else {
      const CommandEntry* found = nullptr;
      for (const CommandEntry& c : kCommands)
        if (command == c.name) found = &c;
      if (found == nullptr)
        throw UsageError("unknown command " + in_quotes(command) + " (see 'fastmlp --help')");
      status = found->run(args, out, err, env);
    }
    if (status == 0) finish_output(out);
    return status;
  } catch (const OutputLost& e) {
    // A closed pipe means the reader has all it wants (`fastmlp predict ... |
    // head`): fail without a word, as other command-line tools do.
    if (e.error != EPIPE)
      err << "fastmlp: cannot write to standard output"
          << (e.error != 0 ? std::string(": ") + std::strerror(e.error) : std::string()) << "\n";
    return 1;
  } catch (const Interrupted&) {
    err << "fastmlp: interrupted\n";
    return 130;
  } catch (const UsageError& e) {
    err << "fastmlp " << (command.rfind('-', 0) == 0 || command.empty() ? "" : printable(command) + ": ")
        << printable(e.what()) << "\n";
    return 2;
  } catch (const std::bad_alloc& e) {
    err << "fastmlp: out of memory (" << printable(e.what()) << ")\n";
    return 1;
  } catch (const std::exception& e) {
    err << "fastmlp: " << printable(e.what()) << "\n";
    return 1;
  }
}

}  // namespace fastmlp::cli
