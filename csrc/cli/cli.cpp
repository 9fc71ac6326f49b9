// The command line's subcommands: one function and one usage text each, and a
// table of flags per command that one parser reads (a new option is a row in
// its command's table and a line in its usage text).
#include "cli.hpp"
#include "columns.hpp"

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
#include <fastmlp/scaling.hpp>
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
    "  train    train a network on a CSV file, print its test figures, save it\n"
    "  predict  print a saved network's outputs for the rows of a CSV file\n"
    "  eval     print a saved network's figures on a CSV file (accuracy and\n"
    "           confusion matrix, or R2, RMSE, MAE and a Poisson deviance)\n"
    "\n"
    "Run 'fastmlp COMMAND --help' for a command's options.\n";

constexpr const char* kTrainUsage =
    "usage: fastmlp train [--train FILE] [--target COLUMN[,COLUMN...]] [--features A,B,...]\n"
    "                     [--test FILE | --test-fraction F] [--labels N] [--task T]\n"
    "                     [--no-header-row] [--scale S] [--hidden N[,N...]] [--seed N]\n"
    "                     [--dtype T] [network options] [training options] [--quiet]\n"
    "                     [-o FILE] [--history FILE.csv] [--plot FILE.png]\n"
    "\n"
    "Train a network (by default: sigmoid layers, full-batch gradient descent),\n"
    "print its figures on the test rows, and save it with -o. With no options: the\n"
    "article's experiment on the bundled Iris data (4-5-3 network, 8000 epochs,\n"
    "learning rate 0.2). A run expected to take more than 2 seconds shows its\n"
    "progress on stderr; when early stopping ends a run, stderr says where.\n"
    "\n"
    "CSV files: comma-separated. With --target, the first row is the header, as\n"
    "pandas reads it (--no-header-row: the file has none); without, a first row\n"
    "without numbers. Names and classes are kept as written, spaces included.\n"
    "--target names the column holding the label, anywhere in the file; every\n"
    "other column is a feature (or those --features names). Its values may be\n"
    "class names (setosa) or numbers (at most 10000 classes). A classifier gets one output per class,\n"
    "the classes sorted (as numbers when all are integers, else as text); a\n"
    "regression (--task regression or --output identity) one output per target\n"
    "column. Without --target: --labels N one-hot label columns at the end, or,\n"
    "when the last columns are unambiguously one-hot (0s and 1s, one 1 per row),\n"
    "those. The test file's columns are matched to the training file's by name\n"
    "when both have a header. The model file records the feature, class or target\n"
    "names and the task.\n"
    "\n"
    "Prints 'Accuracy: NN.NN%' for a classifier (with --target, then the confusion\n"
    "matrix and each class's precision, recall, F1 and support), or R2, RMSE and\n"
    "MAE for a regression (averaged over the targets, as scikit-learn does), and\n"
    "with --loss poisson the mean Poisson deviance (scikit-learn's\n"
    "mean_poisson_deviance; the test targets must be >= 0).\n"
    "\n"
    "options:\n"
    "  --train FILE     training data (default: the bundled data/train.csv)\n"
    "  --target COL,... the label column (a header name or a 0-based index); several\n"
    "                   for a regression. A header name is that column, else a\n"
    "                   number is an index; one that is both, for two columns,\n"
    "                   is refused\n"
    "  --features COL,...\n"
    "                   the feature columns, in this order (default: all but the\n"
    "                   target); other columns are skipped whatever they hold.\n"
    "                   The columns used must have unique header names.\n"
    "  --task T         classification (default) or regression (the default with\n"
    "                   --output identity or exp, or --loss poisson; sets --output\n"
    "                   identity when not given). A classifier cannot have --loss\n"
    "                   poisson or --output exp, which model counts\n"
    "  --test FILE      test data (default: the bundled data/test.csv when --train\n"
    "                   is not given; else --test-fraction, or the figures are the\n"
    "                   training rows' and say so)\n"
    "  --test-fraction F\n"
    "                   hold out about F of --train's rows as test rows, drawn\n"
    "                   from --seed: round(F x rows) for a regression; for a\n"
    "                   classifier, stratified: round(F x its rows) of each class,\n"
    "                   keeping at least one to train on\n"
    "  --labels N       one-hot label columns at the end of each row\n"
    "  --no-header-row  the files have no header row: their first row is data\n"
    "  --scale S        standard: train on each feature centred and divided by its\n"
    "                   standard deviation on the training rows (a constant one\n"
    "                   by 1), folded into the first layer so the model takes raw\n"
    "                   rows; or none. Default: standard with --target, else none\n"
    "  --hidden N,...   hidden layer widths, comma-separated (default: 5)\n"
    "  --seed N         seed of the weight initialisation, the shuffles, the\n"
    "                   validation split and --test-fraction (default: 0)\n"
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
    "  --output NAME          output layer's activation: sigmoid (default;\n"
    "                         softmax for --target's classes, identity for a\n"
    "                         regression, exp with --loss poisson),\n"
    "                         softmax, identity, tanh, relu, leaky_relu, exp\n"
    "  --loss NAME            mse (default; cross_entropy for --target's classes),\n"
    "                         cross_entropy (with softmax or sigmoid outputs) or\n"
    "                         poisson (a regression of counts, targets >= 0;\n"
    "                         output exp and init sklearn unless given)\n"
    "  --reduction NAME       sum (default; mean for a regression) or mean over a\n"
    "                         batch's rows\n"
    "  --init NAME            uniform (default; sklearn with --loss poisson),\n"
    "                         glorot, he, glorot_normal, he_normal, sklearn\n"
    "                         (scikit-learn's: W and b uniform)\n"
    "  --leaky-slope X        leaky_relu's slope below zero (default: 0.01)\n"
    "  --dropout P[,P...]     hidden layers' dropout rate while training, one for\n"
    "                         all or one per layer, in [0, 1) (default: 0)\n"
    "\n"
    "training options (defaults: the article's plain gradient descent; the same\n"
    "options, names and rules as Python's Network.fit):\n";

constexpr const char* kPredictUsage =
    "usage: fastmlp predict MODEL DATA.csv [--classes] [--no-header] [--no-header-row]\n"
    "                       [--labels N] [--threads N]\n"
    "\n"
    "Print the outputs of the network saved in MODEL for every row of DATA.csv,\n"
    "as CSV on standard output: a header row naming the columns (the classes, the\n"
    "targets, or output_0, output_1, ...), then a row per input row, a column per\n"
    "output, each value with the shortest digits that read back to the same\n"
    "number in the network's dtype. Rows stream through: files of any length take\n"
    "little memory.\n"
    "\n"
    "When the model records its feature names, the first row of DATA.csv is its\n"
    "header (as pandas reads it) and the features are found by name: any column\n"
    "order works, other columns (the target among them) are ignored, a missing\n"
    "one is an error. Otherwise (or with --no-header-row) DATA.csv holds the\n"
    "network's inputs first, optionally followed by label columns, which are\n"
    "ignored; its first row is a header when none of its fields is a number.\n"
    "\n"
    "options:\n"
    "  --classes        print each row's predicted class instead, under the header\n"
    "                   'class': its name when the model records the classes, else\n"
    "                   the index of its largest output (a single output: 1 above\n"
    "                   0.5, else 0, whatever the output layer)\n"
    "  --no-header      write no header row in the output (a header in DATA.csv\n"
    "                   is still read as one)\n"
    "  --no-header-row  DATA.csv has no header row: its first row is data\n"
    "  --labels N       label columns that may follow the inputs (default: as many\n"
    "                   as the network has outputs)\n"
    "  --threads N      threads for the matrix products (default: the CPUs this\n"
    "                   process may use, or FASTMLP_NUM_THREADS)\n"
    "  -h, --help       show this text\n";

constexpr const char* kEvalUsage =
    "usage: fastmlp eval MODEL DATA.csv [--target COLUMN] [--labels N] [--no-header-row]\n"
    "                    [--threads N] [--plot FILE.png]\n"
    "\n"
    "Print the figures of the network saved in MODEL on DATA.csv. A classifier:\n"
    "'Accuracy: NN.NN%', then its confusion matrix (a row per true class, a column\n"
    "per predicted class, each cell a count of rows), then each class's precision,\n"
    "recall, F1 and support. A regression (a model file recording the task\n"
    "regression, or a Poisson network recording none): R2, RMSE and MAE, averaged\n"
    "over the targets as scikit-learn does, and for a Poisson network the mean\n"
    "Poisson deviance (its targets must be >= 0).\n"
    "\n"
    "When the model records its feature names (or --target is given), the first\n"
    "row of DATA.csv is its header (as pandas reads it; --no-header-row: there is\n"
    "none) and columns are found by name, in any order: the features, and the\n"
    "labels in the one column left (or --target's), a column per class named as\n"
    "the classes, or the target columns. Otherwise DATA.csv holds the network's inputs followed\n"
    "by the labels: one-hot, a column per output (the class is the largest), or a\n"
    "single column of classes (the model's class names, or indices 0, 1, ...).\n"
    "A network's predicted class is as 'fastmlp predict --classes' prints it.\n"
    "\n"
    "options:\n"
    "  --target COLUMN  the column holding the labels (a header name or a 0-based\n"
    "                   index); without it, by name, the one column beside the\n"
    "                   features whose every value is a class of the model\n"
    "  --labels N       label columns at the end of each row: the network's\n"
    "                   outputs (default) or 1\n"
    "  --no-header-row  DATA.csv has no header row: its first row is data\n"
    "  --threads N      threads for the matrix products (default: the CPUs this\n"
    "                   process may use, or FASTMLP_NUM_THREADS)\n"
    "  --plot FILE      draw the confusion matrix into FILE (.png, .svg, .pdf);\n"
    "                   only the Python package's fastmlp command does, with\n"
    "                   matplotlib installed\n"
    "  -h, --help       show this text\n";

// --- argument parsing ----------------------------------------------------------------

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

// A real-valued flag's number, read as the training options' are (as Python's
// float() reads it: 1e-400 is 0, 1e999 is past the finite numbers).
double parse_real(const std::string& option, const std::string& text) {
  double value = 0;
  if (!parse_number_as_python(text, value) || !std::isfinite(value))
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
  bool output_given = false;  // --output was given (else --task regression makes it identity)
  Loss loss = Loss::Mse;
  bool loss_given = false;  // --loss was given (else a classifier of --target's classes takes cross_entropy)
  Reduction reduction = Reduction::Sum;
  bool reduction_given = false;  // --reduction was given (else a regression takes mean)
  Init init = Init::Uniform;
  bool init_given = false;  // --init was given (else --loss poisson makes it sklearn)
  double leaky_slope = Activation::kDefaultSlope;
  std::vector<double> dropout;  // one rate for all hidden layers, or one each; empty: none

  // Each hidden layer's dropout rate, for a network with `n_hidden` of them.
  std::vector<double> dropout_rates(std::size_t n_hidden) const {
    if (n_hidden == 0 && dropout.size() == 1 && dropout[0] > 0)
      throw UsageError("--dropout: acts on hidden layers; this network has none");
    if (dropout.size() == 1) return std::vector<double>(n_hidden, dropout[0]);
    if (dropout.size() != n_hidden)
      throw UsageError("--dropout: " + std::to_string(dropout.size()) + " rates for " +
                       std::to_string(n_hidden) + " hidden layers (give one, or one per layer)");
    return dropout;
  }

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
       [&spec](const std::string& v) {
         activation_from_name(spec.output = v, "output", true);
         spec.output_given = true;
       }},
      {"--loss", nullptr, true,
       [&spec](const std::string& v) {
         spec.loss = loss_from_name(v);
         spec.loss_given = true;
       }},
      {"--reduction", nullptr, true,
       [&spec](const std::string& v) {
         spec.reduction = reduction_from_name(v);
         spec.reduction_given = true;
       }},
      {"--init", nullptr, true,
       [&spec](const std::string& v) {
         spec.init = init_from_name(v);
         spec.init_given = true;
       }},
      {"--leaky-slope", nullptr, true,
       [&spec](const std::string& v) {
         spec.leaky_slope = parse_real("--leaky-slope", v);
         if (spec.leaky_slope < 0) throw UsageError("--leaky-slope: expected a number >= 0");
       }},
      {"--dropout", nullptr, true,
       [&spec](const std::string& v) {
         spec.dropout.clear();
         for (const std::string& rate : split_commas(v)) {
           spec.dropout.push_back(parse_real("--dropout", rate));
           if (!(spec.dropout.back() >= 0 && spec.dropout.back() < 1))
             throw UsageError("--dropout: expected rates in [0, 1)");
         }
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
template <class T, class U>
Matrix<T> converted(const Matrix<U>& M) {
  Matrix<T> result(M.rows(), M.cols());
  for (std::size_t i = 0; i < M.rows(); ++i)
    for (std::size_t j = 0; j < M.cols(); ++j) result(i, j) = static_cast<T>(M(i, j));
  return result;
}

// The values of `columns` in `rows` of t (all rows when `rows` is null).
Matrix<double> gather(const Table& t, const std::vector<std::size_t>& columns,
                      const std::vector<std::size_t>* rows) {
  const std::size_t n = rows ? rows->size() : t.rows();
  Matrix<double> M(n, columns.size());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < columns.size(); ++j) M(i, j) = t.values(rows ? (*rows)[i] : i, columns[j]);
  return M;
}

// The text of column `column` (one of t's text columns) in `rows` of t (all when null).
std::vector<std::string> gather_text(const Table& t, std::size_t column, const std::vector<std::size_t>* rows) {
  const std::size_t k = t.text_columns.size();
  const auto at = std::find(t.text_columns.begin(), t.text_columns.end(), column) - t.text_columns.begin();
  const std::size_t n = rows ? rows->size() : t.rows();
  std::vector<std::string> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = t.text[(rows ? (*rows)[i] : i) * k + static_cast<std::size_t>(at)];
  return values;
}

// The columns a training file's layout uses: its features, then its targets.
std::vector<std::size_t> used_columns(const Columns& c) {
  std::vector<std::size_t> used = c.features;
  used.insert(used.end(), c.targets.begin(), c.targets.end());
  return used;
}

// The columns of a file of `columns` columns outside `used`.
std::vector<std::size_t> other_columns(std::size_t columns, const std::vector<std::size_t>& used) {
  std::vector<std::size_t> others;
  for (std::size_t j = 0; j < columns; ++j)
    if (std::find(used.begin(), used.end(), j) == used.end()) others.push_back(j);
  return others;
}

// The header's names of `columns` (none without a header).
std::vector<std::string> names_of(const std::vector<std::string>& header, const std::vector<std::size_t>& columns) {
  std::vector<std::string> names;
  if (header.empty()) return names;
  for (const std::size_t j : columns) names.push_back(header[j]);
  return names;
}

// The CSV file at `path` (- is standard input) read whole, its first row the
// header as `header_row` says; `layout(header, columns, ignored)` says, once the header is known, which columns hold text
// (returned) and which to skip whatever they hold (into `ignored`). Ctrl-C
// while it reads (which ends a read of standard input early) interrupts the
// command instead of training on what was read.
template <class Layout>
Table read_table(const std::string& path, const Environment& env, HeaderRow header_row, Layout&& layout) {
  auto stopped = [&env] { return env.should_stop && env.should_stop(); };
  try {
    std::ifstream in;
    open_csv(in, path);
    CsvReader reader(in, path, CsvReader::kBlockBytes, header_row);
    Table t;
    t.path = path;
    t.header = reader.header();
    const std::size_t columns = reader.columns();
    if (columns == 0) throw std::invalid_argument(path + ": no data rows");
    std::vector<std::size_t> ignored;
    t.text_columns = layout(t.header, columns, ignored);
    if (!t.text_columns.empty() || !ignored.empty()) reader.keep_text(t.text_columns, ignored);
    // Up to 1024 rows and 1 MiB a block: room for rows not yet read must not
    // multiply a wide file's size.
    const std::size_t block = std::clamp<std::size_t>((std::size_t(1) << 17) / columns, 1, 1024);
    std::vector<double> values;
    std::size_t rows = 0;
    for (;;) {
      values.resize(checked_mul(checked_add(rows, block, "CSV data"), columns, "CSV data"));
      const std::size_t got = reader.read(values.data() + rows * columns, block, &t.text);
      rows += got;
      if (got < block) break;
    }
    if (rows == 0) throw std::invalid_argument(path + ": no data rows");
    t.values = Matrix<double>(rows, columns);
    std::copy(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rows * columns), t.values.data());
    if (stopped()) throw Interrupted{};
    return t;
  } catch (const std::exception&) {
    if (stopped()) throw Interrupted{};
    throw;
  }
}

// A CSV file's rows streamed in blocks, the model's features taken from the
// columns `features` names, and the text of the label column kept when asked.
class CsvBlocks {
 public:
  // `stop` is polled before each block: true ends the command (Interrupted).
  // A block's rows are sized for rows of `outputs` predictions too.
  CsvBlocks(const std::string& path, HeaderRow header_row, std::size_t outputs, StopCheck stop)
      : path_(path), header_row_(header_row), stop_(std::move(stop)) {
    open_csv(in_, path);
    reader_.emplace(in_, path, CsvReader::kBlockBytes, header_row);
    // Up to 1024 rows and 8 MiB a block, whatever the width of the rows or of
    // the predictions (a model file of few bytes a class may have millions).
    const std::size_t widest = std::max<std::size_t>({reader_->columns(), outputs, 1});
    block_rows_ = std::clamp<std::size_t>((std::size_t(8) << 20) / (8 * widest), 1, 1024);
    raw_ = Matrix<double>(block_rows_, std::max<std::size_t>(reader_->columns(), 1));
  }

  std::size_t block_rows() const { return block_rows_; }
  std::size_t columns() const { return reader_->columns(); }
  const std::vector<std::string>& header() const { return reader_->header(); }
  const std::string& path() const { return path_; }
  HeaderRow header_row() const { return header_row_; }

  // The features' columns, the one label column read as text (npos: none), and
  // columns to skip whatever they hold; before the first block.
  void use(std::vector<std::size_t> features, std::size_t text_column, const std::vector<std::size_t>& ignored) {
    features_ = std::move(features);
    std::vector<std::size_t> text;
    if (text_column != std::string::npos) text.push_back(text_column);
    if (!text.empty() || !ignored.empty()) reader_->keep_text(text, ignored);
  }

  // The next block's rows (0 at the end); its values are row(i), the label text label(i).
  std::size_t next() {
    if (stop_ && stop_()) throw Interrupted{};
    rows_done_ += rows_;
    text_.clear();
    rows_ = columns() == 0 ? 0 : reader_->read(raw_.data(), block_rows_, &text_);
    if (rows_done_ + rows_ == 0) throw std::invalid_argument(path_ + ": no data rows");
    return rows_;
  }
  const double* row(std::size_t i) const { return raw_.data() + i * raw_.cols(); }
  const std::string& label(std::size_t i) const { return text_[i]; }

  // The feature columns of the block's rows, into X (block_rows, features);
  // a value that overflows T is an error naming its row and column.
  template <class T>
  void features(Matrix<T>& X) const {
    for (std::size_t i = 0; i < rows_; ++i)
      for (std::size_t j = 0; j < X.cols(); ++j) {
        const std::size_t c = features_.empty() ? j : features_[j];
        X(i, j) = static_cast<T>(row(i)[c]);
        if (!std::isfinite(X(i, j)))
          throw std::invalid_argument(path_ + ", data row " + std::to_string(rows_done_ + i + 1) +
                                      ", column " + std::to_string(c + 1) +
                                      ": out of the range of float32");
      }
  }

  std::size_t first_row() const { return rows_done_; }  // of this block, from 0

 private:
  std::string path_;
  HeaderRow header_row_;
  StopCheck stop_;
  std::ifstream in_;
  std::optional<CsvReader> reader_;
  Matrix<double> raw_;
  std::vector<std::size_t> features_;  // empty: the first columns
  std::vector<std::string> text_;
  std::size_t block_rows_ = 1, rows_ = 0, rows_done_ = 0;
};

// Whether the first bytes of the file at `path` are text (a CSV file, say).
bool starts_with_text(const std::string& path) {
  std::ifstream in(fs_path(path), std::ios::binary);
  char head[8];
  in.read(head, sizeof head);
  const std::streamsize n = in.gcount();
  if (n == 0) return false;
  for (std::streamsize i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(head[i]);
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

// The model in `path`; a file that is not one says so in plain words, with a
// hint when `data` (the other argument of predict and eval) is the model file.
Model load_model(const std::string& path, const std::string& data) {
  auto hint = [&] {
    if (data.empty() || data == "-") return std::string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(fs_path(data), ec)) return std::string();
    try {
      load(data);
      return std::string("; the arguments are MODEL DATA.csv, and " + in_quotes(data, 256) +
                         " is a model file: swapped?");
    } catch (const std::exception&) {
      return std::string();
    }
  };
  std::error_code ec;
  if (path != "-" && std::filesystem::is_directory(fs_path(path), ec))
    throw std::invalid_argument(in_quotes(path, 256) + " is not a fastmlp model file (it is a directory)" + hint());
  try {
    return load(path);
  } catch (const ModelFileError& e) {
    std::string why = e.what();
    if (why.rfind(path + ": ", 0) == 0) why.erase(0, path.size() + 2);
    if (starts_with_text(path)) why = "it starts with text, as a CSV file does: " + why;
    throw std::invalid_argument(in_quotes(path, 256) + " is not a fastmlp model file (" + why + ")" + hint());
  }
}

// The task of a loaded model: the file's, else (files written before it was
// recorded, and Python's networks saved without one) classification, as these
// commands always read them, unless the network cannot be a classifier
// (task_problem: a Poisson network is a regression).
Task task_of(const Model& model) {
  if (model.info.task) return *model.info.task;
  return std::visit(
      [](const auto& net) {
        return task_problem(Task::Classification, net.loss(), net.activation(net.n_layers() - 1)).empty()
                   ? Task::Classification
                   : Task::Regression;
      },
      model.network);
}

// Appends `value` with the fewest digits that read back to it (in T).
template <class T>
void append_number(std::string& text, T value) {
  char digits[kMaxNumberChars];
  text.append(digits, format_number(value, digits));
}

// Appends `field` as a CSV field: quoted (each " doubled) when it holds a comma,
// a quote, a line break or space at either end, as Python's csv module writes.
void append_field(std::string& text, const std::string& field) {
  const bool quote = field.find_first_of(",\"\r\n") != std::string::npos ||
                     (!field.empty() && (field.front() == ' ' || field.front() == '\t' ||
                                         field.back() == ' ' || field.back() == '\t'));
  if (!quote) {
    text += field;
    return;
  }
  text += '"';
  for (const char c : field) text.append(c == '"' ? 2 : 1, c);
  text += '"';
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

// --- figures ----------------------------------------------------------------------------

// The most classes whose confusion matrix is printed (it has classes^2 cells),
// and drawn (a larger one is unreadable and slow to draw).
constexpr std::size_t kMaxConfusionClasses = 1000;
constexpr std::size_t kMaxPlotClasses = 100;

// A data set's figures: counts of (true class, predicted class), or the
// regression scores.
struct Evaluation {
  std::optional<RegressionScore> regression;
  std::optional<PoissonDeviance> deviance;  // a Poisson regression's
  std::size_t classes = 0, rows = 0, correct = 0;
  std::vector<std::size_t> confusion;  // classes x classes, row-major; empty past kMaxConfusionClasses
  std::vector<std::string> names;      // a name per class

  void start_classes(std::vector<std::string> class_names) {
    names = std::move(class_names);
    classes = names.size();
    if (classes <= kMaxConfusionClasses) confusion.assign(classes * classes, 0);
  }
  void add(std::size_t truth, std::size_t predicted) {
    ++rows;
    correct += truth == predicted;
    if (!confusion.empty()) ++confusion[truth * classes + predicted];
  }
};

// Names "0", "1", ... for n classes known by index only.
std::vector<std::string> index_names(std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t c = 0; c < n; ++c) names.push_back(std::to_string(c));
  return names;
}

// The evaluation as text: for a regression, R2, RMSE and MAE (and a Poisson
// regression's mean deviance); for a classifier,
// the accuracy line, then (when `detailed`) the confusion matrix with
// right-aligned columns and each class's precision, recall, F1 and support
// (scikit-learn's classification_report; 0 where a ratio has no rows).
std::string report(const Evaluation& e, bool detailed) {
  char line[160];
  if (e.regression) {
    std::snprintf(line, sizeof line, "R2: %.6f\nRMSE: %.6g\nMAE: %.6g\n", e.regression->r2(),
                  e.regression->rmse(), e.regression->mae());
    std::string text = line;
    if (e.deviance) {
      std::snprintf(line, sizeof line, "Mean Poisson deviance: %.6g\n", e.deviance->mean());
      text += line;
    }
    return text;
  }
  std::snprintf(line, sizeof line, "Accuracy: %.2f%%\n", 100.0 * double(e.correct) / double(e.rows));
  std::string text = line;
  if (!detailed) return text;
  if (e.confusion.empty())
    return text + "(no confusion matrix or per-class figures: more than " + std::to_string(kMaxConfusionClasses) +
           " classes)\n";
  text += "Confusion matrix (rows: true class, columns: predicted class):\n";
  std::size_t first = 5, width = 0;  // "class" heads the per-class table's first column
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
  text += "\nclass";
  text.append(first - 5, ' ');
  text += "  precision     recall         f1    support\n";
  for (std::size_t c = 0; c < e.classes; ++c) {
    std::size_t predicted = 0, actual = 0;
    for (std::size_t k = 0; k < e.classes; ++k) {
      predicted += e.confusion[k * e.classes + c];
      actual += e.confusion[c * e.classes + k];
    }
    const double hit = static_cast<double>(e.confusion[c * e.classes + c]);
    const double precision = predicted ? hit / double(predicted) : 0.0;
    const double recall = actual ? hit / double(actual) : 0.0;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    text += e.names[c];
    text.append(first - e.names[c].size(), ' ');
    std::snprintf(line, sizeof line, "  %9.4f  %9.4f  %9.4f  %9zu\n", precision, recall, f1, actual);
    text += line;
  }
  return text;
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
// two seconds: the fit's progress hook. When early stopping ends a fit, end()
// says where, as Python's progress does, even after a run too short to show.
class ProgressLine {
 public:
  // `score`: the name of the validation score (validation_score_name);
  // `epochs`: the fit's.
  ProgressLine(std::ostream& err, const char* score, std::size_t epochs)
      : err_(err), score_(score), epochs_(epochs), start_(Clock::now()) {}
  ~ProgressLine() { finish(); }

  bool operator()(const EpochLog& log) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (width_ == 0 && !log.last &&
        elapsed / static_cast<double>(log.epoch) * static_cast<double>(log.epochs) < 2.0)
      return true;
    if (width_ == 0 && log.last) return true;  // it ended before it seemed long
    char line[160];
    int len = std::snprintf(line, sizeof line, "epoch %zu/%zu  loss %.4g", log.epoch, log.epochs, log.loss);
    if (!std::isnan(log.val_loss))
      len += std::snprintf(line + len, sizeof line - static_cast<std::size_t>(len),
                           "  val_loss %.4g  val_%s %.4g", log.val_loss, score_, log.val_score);
    show(line);
    return true;
  }

  // After the fit: where early stopping ended it, then the line ended.
  void end(const FitResult& result) {
    if (result.early_stopped)
      show("epoch " + std::to_string(result.epochs) + "/" + std::to_string(epochs_) + "  " +
           early_stopping_summary(result));
    finish();
  }

  // Ends the line, if one was shown.
  void finish() {
    if (width_ != 0) err_ << "\n" << std::flush;
    width_ = 0;
  }

 private:
  using Clock = std::chrono::steady_clock;

  // `text` over the line shown, padded to cover a longer one.
  void show(const std::string& text) {
    err_ << '\r' << text;
    if (text.size() < width_) err_ << std::string(width_ - text.size(), ' ');
    err_ << std::flush;
    width_ = std::max(text.size(), std::size_t(1));
  }

  std::ostream& err_;
  const char* score_;
  std::size_t epochs_;
  Clock::time_point start_;
  std::size_t width_ = 0;  // of the line shown; 0: none
};

// Where `train` writes: the model file, the history and its plot, each "" for none.
struct TrainOutputs {
  std::string model, history, plot;
};

// What `train` learns from and is tested on, as the columns made them.
struct TrainSet {
  Matrix<double> X, Y, X_test, Y_test;
  Columns columns;
  ModelInfo info;                        // the names and the task, for the model file
  std::vector<std::string> class_names;  // the report's, a name per class
  bool on_training_rows = false;         // no test rows: the figures are the training rows'
};

// Runs `f`, a step of --scale standard, its error prefixed with the flag and
// the way around it.
template <class F>
void with_scale_hint(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    std::string why = e.what();
    why.erase(0, why.find(": ") + 2);  // the core function's name
    throw std::invalid_argument("--scale standard: " + why + "; give --scale none to train on raw features");
  }
}

// Train the network in precision T on `set` (the fit holds out
// --validation-fraction's rows and weighs them by class itself), write
// `outputs`; its outputs for the test rows. With `scaling`, set.X is standardised
// and the scaling is folded into the network before it is saved or tested, so
// the model file and the figures take raw rows.
template <class T>
Matrix<double> train_and_predict(const std::vector<std::size_t>& sizes, const NetworkSpec& spec,
                                 std::uint64_t seed, const FitOptions& options, const TrainSet& set,
                                 const ColumnScaling* scaling, const TrainOutputs& outputs,
                                 const Environment& env, std::ostream* progress) {
  const Matrix<T> X = converted<T>(set.X), Y = converted<T>(set.Y);
  const Matrix<T> X_test = converted<T>(set.X_test);
  Network<T> net(sizes, spec.activations(sizes.size() - 2), spec.loss, spec.reduction,
                 spec.leaky_slope);
  if (!spec.dropout.empty()) net.set_dropout(spec.dropout_rates(sizes.size() - 2));
  net.initialize(spec.init, seed);
  FitData<T> data;
  data.X = X.view();
  data.Y = Y.view();
  FitHooks hooks;
  hooks.should_stop = env.should_stop;
  std::unique_ptr<ProgressLine> line;
  const char* score = validation_score_name(net.activation(net.n_layers() - 1));
  if (progress != nullptr) {
    line = std::make_unique<ProgressLine>(*progress, score, options.epochs);
    hooks.progress = [&line](const EpochLog& log) { return (*line)(log); };
    hooks.progress_seconds = 0.25;
  }
  Optimizer<T> optimizer;
  const FitResult result = [&] {
    try {
      return fit(net, data, options, optimizer, hooks);
    } catch (const Diverged& e) {  // its message names Python's options and a network that lives on
      throw std::runtime_error(
          "training diverged in epoch " + std::to_string(e.epoch()) +
          ": the loss became NaN or infinite, or the parameters NaN, infinite or too large to square, and no model was written (try a smaller --lr, "
          "or --clip-norm" + (net.reduction() == Reduction::Sum ? std::string(", or --reduction mean") : "") + ")");
    }
  }();
  if (line) line->end(result);
  if (result.stopped) throw Interrupted{};
  if (options.stop_on_divergence && result.epochs > 0) {
    // the guard reads each epoch's loss as computed before its steps: the last
    // step's outputs are read here (an exp output overflows from finite weights)
    Matrix<T> outputs_now(X.rows(), sizes.back());
    net.predict(X.view(), outputs_now.view());
    if (!all_finite(ConstMatrixView<T>(outputs_now.view())))
      throw std::runtime_error("training diverged in its last step: the network's outputs for the training rows "
                               "are NaN or infinite, and no model was written (try a smaller --lr, or --clip-norm)");
  }
  if (scaling != nullptr) with_scale_hint([&] { fold_input_scaling(net, *scaling); });
  if (!outputs.model.empty()) {
    ModelInfo info = set.info;
    info.init = spec.init;
    info.seed = seed;
    info.epochs = result.epochs;
    save(net, outputs.model, info);
  }
  const History history = history_of(result, score);
  if (!outputs.history.empty()) write_history(outputs.history, history);
  if (!outputs.plot.empty()) {
    if (result.epochs == 0) throw std::runtime_error("--plot: no epochs to draw (--epochs 0)");
    draw_plot(env, outputs.plot, "loss", history.names, history.table);
  }
  Matrix<T> predictions(X_test.rows(), sizes.back());
  net.predict(X_test.view(), predictions.view());
  return converted<double>(predictions);
}

// std::invalid_argument naming `what`'s row unless every target in Y is >= 0,
// as a Poisson model's are (counts or rates: the deviance is defined for those).
void check_poisson_targets(ConstMatrixView<double> Y, const std::string& what, std::size_t first_row = 0) {
  for (std::size_t i = 0; i < Y.rows; ++i)
    for (std::size_t j = 0; j < Y.cols; ++j)
      if (!(Y(i, j) >= 0))
        throw std::invalid_argument(what + " row " + std::to_string(first_row + i + 1) + ": target " +
                                    number_text(Y(i, j)) + " is below 0, but a Poisson model's targets are "
                                    "counts or rates >= 0 (its deviance is defined for those only)");
}

// The figures of predictions P against the test rows of `set` (with `poisson`,
// a Poisson regression's: its mean deviance too).
Evaluation evaluate_rows(const TrainSet& set, const Matrix<double>& P, bool poisson) {
  Evaluation e;
  const ConstMatrixView<double> Y = set.Y_test.view();
  if (set.columns.task == Task::Regression) {
    e.regression.emplace(Y.cols);
    if (poisson) e.deviance.emplace(Y.cols);
    for (std::size_t i = 0; i < Y.rows; ++i) {
      e.regression->add(P.data() + i * P.cols(), Y.row(i));
      if (poisson) e.deviance->add(P.data() + i * P.cols(), Y.row(i));
    }
    e.rows = Y.rows;
    return e;
  }
  e.start_classes(set.class_names);
  const std::string predictions = "predictions", labels = "test labels";
  for (std::size_t i = 0; i < Y.rows; ++i)
    e.add(true_class_of_row(Y.row(i), Y.cols, labels, i + 1),
          predicted_class_of_row(P.data() + i * P.cols(), P.cols(), predictions, i + 1));
  return e;
}

// The training file's one-hot label columns, checked: a classifier's labels lie
// in [0, 1] (a column of class indices or names wants --target).
void check_one_hot(const Table& t, const std::vector<std::size_t>& labels) {
  for (std::size_t i = 0; i < t.rows(); ++i)
    for (const std::size_t j : labels) {
      const double v = t.values(i, j);
      if (!(v >= 0 && v <= 1))
        throw std::invalid_argument(
            t.path + ", data row " + std::to_string(i + 1) + ", column " + std::to_string(j + 1) +
            (t.header.empty() ? std::string() : " (" + in_quotes(t.header[j]) + ")") + ": label " +
            number_text(v) + " is not a one-hot label from 0 to 1; for a column of class indices or names, give "
            "--target COLUMN");
    }
}

// The training and test rows as the flags say: the columns chosen (or the
// one-hot block found), the classes of a target column, the test rows from
// --test, --test-fraction, the bundled test file, or else the training rows.
TrainSet load_train_set(const ColumnFlags& flags, const std::string& train_path, const std::string& test_path,
                        std::optional<double> test_fraction, std::uint64_t seed, const Environment& env) {
  TrainSet set;
  Columns& cols = set.columns;
  const bool inferring = flags.target.empty() && !flags.labels;
  Table train;
  try {
    train = read_table(train_path, env, header_row(flags), [&](const std::vector<std::string>& header, std::size_t n,
                                            std::vector<std::size_t>& ignored) {
      cols = choose_columns(flags, header, n);
      if (!inferring) ignored = other_columns(n, used_columns(cols));  // --features: the others are skipped
      return cols.layout == Layout::Classes ? cols.targets : std::vector<std::size_t>{};
    });
  } catch (const std::invalid_argument& e) {
    if (!inferring) throw;
    throw std::invalid_argument(std::string(e.what()) +
                                " (for a column of class names, give --target COLUMN)");
  }
  if (inferring) {
    const std::size_t m = infer_one_hot(train);
    for (std::size_t j = 0; j < train.columns(); ++j)
      (j + m < train.columns() ? cols.features : cols.targets).push_back(j);
  }
  check_unique_names(train.header, used_columns(cols), train_path);
  if (!train.header.empty())
    for (const std::size_t j : cols.features)
      if (train.header[j].empty())  // pandas' to_csv writes its index so, and the row number is no feature
        throw std::invalid_argument(train_path + ": column " + std::to_string(j + 1) +
                                    " has no name (the index pandas' to_csv writes unless index=False?); "
                                    "leave it out with --features, or name it");
  if (cols.layout == Layout::OneHot) check_one_hot(train, cols.targets);

  // the classes (of a target column, or named by one-hot columns), and each
  // training row's class, for the stratified hold-out
  const std::vector<std::string> target_names = names_of(train.header, cols.targets);
  Classes classes;
  std::vector<std::size_t> labels;
  if (cols.layout == Layout::Classes) {
    const std::vector<std::string> values = gather_text(train, cols.targets[0], nullptr);
    try {
      classes = classes_of(values);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(train_path + ": " + e.what());
    }
    if (classes.type == "float" && !flags.task_given) {  // scikit-learn's "continuous" labels
      const auto fractional = std::find_if(classes.names.begin(), classes.names.end(), [](const std::string& name) {
        double v = 0;
        return parse_number(name, v) && v != std::floor(v);
      });
      throw std::invalid_argument(train_path + ": the target column holds numbers that are not whole, such as " +
                                  (fractional != classes.names.end() ? *fractional : classes.names.front()) +
                                  "; to predict them give --task regression (or --task classification to take "
                                  "each value as a class)");
    }
    check_class_count(classes.names.size(), train_path + ", the target column");
    if (classes.names.size() < 2)
      throw std::invalid_argument(train_path + ": the target column holds one class (" +
                                  listed(classes.names) + "); a classifier needs two or more");
    for (const std::string& v : values) labels.push_back(classes.index_of(v));
    set.class_names = classes.names;
  } else if (cols.layout == Layout::OneHot) {
    const std::size_t k = cols.targets.size();
    set.class_names = k > 1 && !target_names.empty() ? target_names : index_names(std::max<std::size_t>(k, 2));
    if (test_fraction && test_path.empty()) {
      const Matrix<double> Y = gather(train, cols.targets, nullptr);
      for (std::size_t i = 0; i < Y.rows(); ++i)
        labels.push_back(true_class_of_row(Y.data() + i * k, k, train_path + ", data", i + 1));
    }
  }

  // the test rows, their columns found by name when both files have a header
  std::vector<std::string> wanted = names_of(train.header, cols.features);
  for (const std::string& name : names_of(train.header, cols.targets)) wanted.push_back(name);
  Table test;
  Columns test_cols = cols;
  Split split;
  const bool split_rows = !test_path.empty() ? false : test_fraction.has_value();
  if (!test_path.empty()) {
    test = read_table(test_path, env, header_row(flags), [&](const std::vector<std::string>& header, std::size_t n,
                                          std::vector<std::size_t>& ignored) {
      if (!wanted.empty() && !header.empty()) {
        const std::vector<std::size_t> found = match_by_name(wanted, header, test_path, "training columns");
        test_cols.features.assign(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(cols.features.size()));
        test_cols.targets.assign(found.begin() + static_cast<std::ptrdiff_t>(cols.features.size()), found.end());
      } else if (n != train.columns()) {
        throw std::invalid_argument(test_path + ": " + std::to_string(n) + " columns, but " + train_path +
                                    " has " + std::to_string(train.columns()));
      }
      ignored = other_columns(n, used_columns(test_cols));
      return cols.layout == Layout::Classes ? test_cols.targets : std::vector<std::size_t>{};
    });
  } else if (split_rows) {
    split = hold_out(train.rows(), labels.empty() ? nullptr : &labels, set.class_names.size(), *test_fraction,
                     seed, set.class_names);
  } else {
    set.on_training_rows = true;
  }
  const Table& test_table = test_path.empty() ? train : test;
  const std::vector<std::size_t>* train_rows = split_rows ? &split.train : nullptr;
  const std::vector<std::size_t>* test_rows = split_rows ? &split.test : nullptr;

  set.X = gather(train, cols.features, train_rows);
  set.X_test = gather(test_table, test_cols.features, test_rows);
  if (cols.layout == Layout::Classes) {
    set.Y = one_hot(classes, gather_text(train, cols.targets[0], train_rows), train_path + ", data");
    set.Y_test = one_hot(classes, gather_text(test_table, test_cols.targets[0], test_rows),
                         test_table.path + (split_rows ? ", held-out data" : ", data"));
  } else {
    set.Y = gather(train, cols.targets, train_rows);
    set.Y_test = gather(test_table, test_cols.targets, test_rows);
  }
  if (cols.layout == Layout::OneHot && !test_path.empty()) check_one_hot(test, test_cols.targets);

  // what the model file records, and the report's class names
  set.info.feature_names = names_of(train.header, cols.features);
  set.info.task = cols.task;
  if (cols.layout == Layout::Classes) {
    set.info.class_names = classes.names;
    set.info.classes_type = classes.type;
  } else if (cols.layout == Layout::Values) {
    set.info.target_names = target_names;
  } else if (cols.targets.size() > 1 && !target_names.empty()) {
    // One-hot columns name their classes, in output order; a single 0/1 column names none.
    set.info.class_names = target_names;
    set.info.classes_type = "str";
  }
  return set;
}

int cmd_train(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
              const Environment& env) {
  std::string train_path, test_path;
  TrainOutputs outputs;
  std::vector<std::size_t> hidden = {5};
  FitOptions fit_options;
  std::uint64_t seed = 0;
  std::optional<std::size_t> labels;
  std::optional<double> test_fraction;
  std::optional<Task> task;
  std::vector<std::string> target, features;
  std::string dtype = "float64";
  std::optional<bool> scale;  // unset: standard with --target, else none
  bool quiet = false, no_header_row = false;
  auto names_flag = [](const char* flag, std::vector<std::string>& into) {
    return [flag, &into](const std::string& v) {
      into = split_commas(v);
      for (const std::string& name : into)
        if (name.empty()) throw UsageError(std::string(flag) + ": an empty column name in " + in_quotes(v));
    };
  };
  std::vector<Flag> flags = {
      {"--train", nullptr, true, [&](const std::string& v) { train_path = v; }},
      {"--test", nullptr, true, [&](const std::string& v) { test_path = v; }},
      {"--target", nullptr, true, names_flag("--target", target)},
      {"--features", nullptr, true, names_flag("--features", features)},
      {"--task", nullptr, true, [&](const std::string& v) { task = task_from_name(v); }},
      {"--test-fraction", nullptr, true,
       [&](const std::string& v) {
         test_fraction = parse_real("--test-fraction", v);
         if (!(*test_fraction > 0 && *test_fraction < 1))
           throw UsageError("--test-fraction: expected a number between 0 and 1 (exclusive), got " + in_quotes(v));
       }},
      labels_flag(labels),
      {"--hidden", nullptr, true, [&](const std::string& v) { hidden = parse_sizes("--hidden", v); }},
      {"--seed", nullptr, true, [&](const std::string& v) { seed = parse_uint("--seed", v); }},
      {"--dtype", nullptr, true,
       [&](const std::string& v) {
         if (v != "float64" && v != "float32")
           throw UsageError("--dtype: expected float64 or float32, got " + in_quotes(v));
         dtype = v;
       }},
      {"--scale", nullptr, true,
       [&](const std::string& v) {
         if (v != "standard" && v != "none")
           throw UsageError("--scale: expected standard or none, got " + in_quotes(v));
         scale = v == "standard";
       }},
      {"--quiet", nullptr, false, [&](const std::string&) { quiet = true; }},
      {"--no-header-row", nullptr, false, [&](const std::string&) { no_header_row = true; }},
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

  // --loss poisson: the log link (output exp) and scikit-learn's
  // initialisation, unless given (the default uniform [0, 1) weights make exp
  // overflow). The task: --task's, else regression when the outputs are
  // identity or the loss is poisson; a regression's outputs are identity
  // unless --output (or poisson) says otherwise.
  const bool poisson = spec.loss == Loss::Poisson;
  if (poisson && !spec.output_given) spec.output = "exp";
  if (poisson && !spec.init_given) spec.init = Init::Sklearn;
  ColumnFlags column_flags;
  column_flags.task = task.value_or(spec.output == "identity" || spec.output == "exp" || poisson
                                        ? Task::Regression
                                        : Task::Classification);
  if (column_flags.task == Task::Regression && !spec.output_given && !poisson) spec.output = "identity";
  // A regression's loss is the mean over the rows unless --reduction says
  // otherwise: the sum, with the default learning rate, diverges on all but a
  // few dozen rows. A classifier of a --target column's classes is scikit-learn's:
  // softmax outputs and the cross-entropy, unless --output or --loss say otherwise.
  if (column_flags.task == Task::Regression && !spec.reduction_given) spec.reduction = Reduction::Mean;
  if (column_flags.task == Task::Classification && !target.empty() && !labels && !spec.output_given &&
      !spec.loss_given) {
    spec.output = "softmax";
    spec.loss = Loss::CrossEntropy;
  }
  column_flags.task_given = task.has_value();
  column_flags.no_header_row = no_header_row;
  column_flags.target = target;
  column_flags.features = features;
  column_flags.labels = labels;
  if (train_path.empty()) {  // the article's experiment on the bundled files
    train_path = env.data_dir + "/train.csv";
    if (test_path.empty() && !test_fraction) test_path = env.data_dir + "/test.csv";
    if (target.empty() && !labels) column_flags.labels = 3;
  }
  if (test_fraction && !test_path.empty()) throw UsageError("--test and --test-fraction: give one");
  if (column_flags.labels == std::size_t(0))
    throw UsageError("--labels: a network needs at least 1 label column");
  const Activation output = activation_from_name(spec.output, "--output", true);
  if (const std::string why = task_problem(column_flags.task, spec.loss, output); !why.empty())
    throw UsageError("--task " + std::string(task_name(column_flags.task)) + " and " +
                     (poisson ? std::string("--loss poisson") : "--output " + spec.output) + " conflict: " + why +
                     " (give --task regression, or another " + (poisson ? "--loss" : "--output") + ")");
  try {
    check_fit_options(fit_options);
    check_loss_output(spec.loss, spec.activations(hidden.size()).back());
    if (dtype == "float32") check_leaky_slope<float>(spec.leaky_slope);
    else check_leaky_slope<double>(spec.leaky_slope);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (column_flags.labels) {
    try {
      check_output_units(spec.activations(hidden.size()).back(), *column_flags.labels);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  }
  if (train_path == "-" && test_path == "-")
    throw UsageError("--train and --test cannot both read standard input (-)");
  std::vector<std::string> inputs = {train_path};
  if (!test_path.empty()) inputs.push_back(test_path);
  if (!outputs.model.empty()) check_output("-o", outputs.model, inputs);
  if (!outputs.history.empty()) check_output("--history", outputs.history, inputs);
  if (!outputs.plot.empty()) check_output("--plot", outputs.plot, inputs);
  check_distinct("--history", outputs.history, "-o's model file", outputs.model);
  check_distinct("--plot", outputs.plot, "-o's model file", outputs.model);
  check_distinct("--plot", outputs.plot, "--history's file", outputs.history);

  TrainSet set = load_train_set(column_flags, train_path, test_path, test_fraction, seed, env);
  // the test rows' deviance, before any training (the training rows' targets are fit's to check)
  if (poisson && !set.on_training_rows)
    check_poisson_targets(set.Y_test.view(), test_path.empty() ? train_path + ", held-out test" : test_path + ", data");
  // The training rows' scaling (after the hold-out: the test rows must not inform it).
  std::optional<ColumnScaling> scaling;
  if (scale.value_or(!target.empty())) with_scale_hint([&] { scaling = standardize_columns(set.X.view()); });
  const ColumnScaling* scaling_or_null = scaling ? &*scaling : nullptr;
  std::vector<std::size_t> sizes = {set.X.cols()};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(set.Y.cols());
  try {
    check_output_units(spec.activations(hidden.size()).back(), sizes.back());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  fit_options.seed = seed;
  std::ostream* progress = quiet ? nullptr : &err;
  const Matrix<double> P =
      dtype == "float32"
          ? train_and_predict<float>(sizes, spec, seed, fit_options, set, scaling_or_null, outputs, env, progress)
          : train_and_predict<double>(sizes, spec, seed, fit_options, set, scaling_or_null, outputs, env, progress);
  std::string text = report(evaluate_rows(set, P, poisson), set.columns.layout == Layout::Classes);
  if (set.on_training_rows)
    text += "(figures on the training rows: give --test FILE or --test-fraction F to hold rows out)\n";
  write_out(out, text);
  return 0;
}

// --- a model's columns in a file ---------------------------------------------------------

// The classes of a classifier `model` as eval and predict name them: the file's
// class names, else indices 0, 1, ... (at least 2: a single output is binary).
Classes model_classes(const Model& model, std::size_t outputs) {
  if (!model.info.class_names.empty()) return classes_named(model.info.class_names, model.info.classes_type);
  return classes_named(index_names(std::max<std::size_t>(outputs, 2)), "int");
}

// Whether the first row of predict's or eval's data file is its header: never
// with --no-header-row; always when its columns are found by name (the model
// records its features, or eval's --target names a column), as train reads
// its file; else found from the row (files for older models, without names).
HeaderRow data_header_row(const Model& model, bool no_header_row, bool target_given) {
  if (no_header_row) return HeaderRow::No;
  return !model.info.feature_names.empty() || target_given ? HeaderRow::Yes : HeaderRow::Detect;
}

// Finds the model's features in `data` by name when the model records them and
// the file has a header; else they are the first `inputs` columns. Returns
// whether the columns were matched by name, with the features' columns in
// `features`.
bool find_features(const Model& model, std::size_t inputs, const CsvBlocks& data,
                   std::vector<std::size_t>& features) {
  const std::vector<std::string>& names = model.info.feature_names;
  if (!names.empty() && !data.header().empty()) {
    features = match_by_name(names, data.header(), data.path(), "features");
    return true;
  }
  if (!names.empty() && data.columns() != inputs)  // which columns are which is a guess: refuse it
    throw UsageError(data.path() + " has no header row and " + std::to_string(data.columns()) +
                     " columns, but the model's " + std::to_string(inputs) +
                     " features have names: give the file its header row (any column order then works), or "
                     "exactly the features' columns in the model's order");
  features.clear();
  for (std::size_t j = 0; j < inputs; ++j) features.push_back(j);
  return false;
}

// --- predict --------------------------------------------------------------------------

// The header of predict's output: "class", or a name per output.
std::string output_header(const Model& model, std::size_t outputs, bool classes) {
  if (classes) return "class\n";
  std::vector<std::string> names;
  const ModelInfo& info = model.info;
  if (info.class_names.size() == outputs) names = info.class_names;
  else if (outputs == 1 && info.class_names.size() == 2) names = {info.class_names[1]};  // P(second class)
  else if (info.target_names.size() == outputs) names = info.target_names;
  else
    for (std::size_t j = 0; j < outputs; ++j) names.push_back("output_" + std::to_string(j));
  std::string text;
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (j > 0) text += ',';
    append_field(text, names[j]);
  }
  return text + "\n";
}

template <class T>
void predict_csv(const Model& model, const Network<T>& net, const std::string& path,
                 std::optional<std::size_t> labels, bool classes, bool header, HeaderRow header_row, int threads,
                 std::ostream& out, const Environment& env) {
  CsvBlocks data(path, header_row, net.n_outputs(), env.should_stop);
  std::vector<std::size_t> features;
  const std::size_t columns = data.columns(), inputs = net.n_inputs(), n_labels = labels.value_or(net.n_outputs());
  if (columns != 0 && find_features(model, inputs, data, features)) {
    data.use(features, std::string::npos, other_columns(columns, features));  // other columns ignored
  } else if (columns != 0 && columns != inputs && columns != inputs + n_labels) {
    throw std::invalid_argument(path + ": " + std::to_string(columns) + " columns, but the network takes " +
                                std::to_string(inputs) + " inputs (optionally followed by " +
                                std::to_string(n_labels) + " label column(s); see --labels)");
  }
  // Class names for --classes: the model's, when it records them.
  const std::vector<std::string>& names = model.info.class_names;
  const bool named = classes && (names.size() == net.n_outputs() || (net.n_outputs() == 1 && names.size() == 2));
  Matrix<T> X(data.block_rows(), net.n_inputs()), P(data.block_rows(), net.n_outputs());
  const std::string rows_of = path + ", data";
  std::string text;
  if (header) text = output_header(model, net.n_outputs(), classes);
  while (const std::size_t n = data.next()) {
    data.features(X);
    net.predict(X.view().rows_range(0, n), P.view().rows_range(0, n), pool_for(threads));
    for (std::size_t i = 0; i < n; ++i) {
      const T* p = P.data() + i * P.cols();
      if (classes) {
        const std::size_t c = predicted_class_of_row(p, P.cols(), rows_of, data.first_row() + i + 1);
        if (named) append_field(text, names[c]);
        else text += std::to_string(c);
      } else {
        for (std::size_t j = 0; j < P.cols(); ++j) {
          if (j > 0) text += ',';
          append_number(text, p[j]);
        }
      }
      text += '\n';
    }
    write_out(out, text);
    text.clear();
  }
}

int cmd_predict(const std::vector<std::string>& args, std::ostream& out, std::ostream&,
                const Environment& env) {
  bool classes = false, header = true, no_header_row = false;
  std::optional<std::size_t> labels;
  int threads = default_thread_count();
  const std::vector<Flag> flags = {
      {"--classes", nullptr, false, [&](const std::string&) { classes = true; }},
      {"--no-header", nullptr, false, [&](const std::string&) { header = false; }},
      {"--no-header-row", nullptr, false, [&](const std::string&) { no_header_row = true; }},
      labels_flag(labels),
      threads_flag(threads),
  };
  const auto files = model_and_data(args, flags, kPredictUsage, out);
  if (!files) return 0;
  const std::string &model_path = (*files)[0], &data = (*files)[1];
  const Model model = load_model(model_path, data);
  if (classes && task_of(model) == Task::Regression) {
    std::string targets;
    for (const std::string& name : model.info.target_names) targets += (targets.empty() ? "" : ", ") + name;
    throw UsageError("--classes needs a classifier; " + model_path + " is a regression model" +
                     (targets.empty() ? std::string() : " (targets: " + targets + ")"));
  }
  const HeaderRow header_row = data_header_row(model, no_header_row, false);
  std::visit(
      [&](const auto& net) { predict_csv(model, net, data, labels, classes, header, header_row, threads, out, env); },
      model.network);
  return 0;
}

// --- eval -----------------------------------------------------------------------------

// Where eval finds the truth in a file.
struct Truth {
  enum Kind { OneHot, Column, Values } kind = OneHot;
  std::vector<std::size_t> columns;  // OneHot: a column per class, in class order; Values: per output
};

// The label columns of `data` for a classifier or a regression `model`: by name
// when the features were (--target's, the class names' one-hot columns, the
// target names, or the one column left), else after the inputs.
Truth find_truth(const Model& model, std::size_t inputs, std::size_t outputs, const CsvBlocks& data,
                 bool by_name, const std::vector<std::size_t>& features, const std::string& target,
                 std::optional<std::size_t> labels_option) {
  Truth t;
  const std::vector<std::string>& header = data.header();
  const bool regression = task_of(model) == Task::Regression;
  if (!target.empty()) {
    bool named = false;
    t.columns = {find_column(target, header, data.columns(), "--target", &named)};
    check_header_was_named(header, named || by_name, "--target");
    if (std::find(features.begin(), features.end(), t.columns[0]) != features.end())
      throw UsageError("--target: " + in_quotes(target) + " is one of the model's features");
    t.kind = regression ? Truth::Values : Truth::Column;
    if (regression && outputs != 1)
      throw UsageError("--target: the model has " + std::to_string(outputs) + " targets; give none and name "
                       "the columns as its file does");
    return t;
  }
  if (by_name) {
    const std::vector<std::size_t> others = other_columns(data.columns(), features);
    if (regression && model.info.target_names.size() == outputs) {
      t.kind = Truth::Values;
      t.columns = match_by_name(model.info.target_names, header, data.path(), "targets");
      return t;
    }
    const std::vector<std::string>& classes = model.info.class_names;
    // (among the columns beside the features: a pandas file's features may be named "0", "1", ... as
    // its classes are)
    if (!regression && classes.size() == outputs && outputs > 1 &&
        std::all_of(classes.begin(), classes.end(), [&](const std::string& c) {
          return std::any_of(others.begin(), others.end(), [&](std::size_t j) { return header[j] == c; });
        })) {
      t.kind = Truth::OneHot;  // one-hot columns named as the classes, in any order
      t.columns = match_by_name(classes, header, data.path(), "classes");
      return t;
    }
    if (others.size() == 1) {
      t.kind = regression ? Truth::Values : Truth::Column;
      t.columns = others;
      if (regression && outputs != 1)
        throw std::invalid_argument(data.path() + ": one column beside the features, but the model has " +
                                    std::to_string(outputs) + " targets");
      return t;
    }
    if (others.empty())
      throw std::invalid_argument(data.path() + " has no column beside the model's features: nothing to "
                                  "evaluate against");
    if (!regression && !model.info.class_names.empty()) {
      // the one column beside the features whose every value is a class
      const std::vector<std::size_t> found =
          columns_of_classes(data.path(), data.header_row(), others, model_classes(model, outputs));
      if (found.size() == 1) {
        t.kind = Truth::Column;
        t.columns = found;
        return t;
      }
    }
    std::vector<std::string> names;
    for (const std::size_t j : others) names.push_back(header[j]);
    throw std::invalid_argument(data.path() + ": cannot tell which column holds the labels among " + listed(names) +
                                "; give --target COLUMN");
  }
  // After the inputs: as many columns as outputs (one-hot, or a regression's
  // targets), or one column of classes (--labels 1).
  const std::size_t labels = labels_option.value_or(outputs);
  if (labels != outputs && (labels != 1 || regression))
    throw UsageError("--labels: expected " + std::to_string(outputs) +
                     (regression ? " (a column per target)" : " (one-hot, a column per output) or 1 (classes)"));
  if (data.columns() != 0 && data.columns() != inputs + labels)
    throw std::invalid_argument(data.path() + ": " + std::to_string(data.columns()) + " columns, but the network's " +
                                std::to_string(inputs) + " inputs and " + std::to_string(labels) +
                                " label column(s) make " + std::to_string(inputs + labels));
  for (std::size_t j = 0; j < labels; ++j) t.columns.push_back(inputs + j);
  t.kind = regression ? Truth::Values : labels > 1 ? Truth::OneHot : Truth::Column;
  return t;
}

template <class T>
Evaluation evaluate_csv(const Model& model, const Network<T>& net, const std::string& path, const std::string& target,
                        std::optional<std::size_t> labels, HeaderRow header_row, int threads, const Environment& env) {
  const std::size_t k = net.n_outputs();
  CsvBlocks data(path, header_row, net.n_outputs(), env.should_stop);
  std::vector<std::size_t> features;
  const bool by_name = data.columns() != 0 && find_features(model, net.n_inputs(), data, features);
  if (data.columns() == 0) features.clear();
  const Truth truth = data.columns() == 0 ? Truth{}
                                          : find_truth(model, net.n_inputs(), k, data, by_name, features, target, labels);
  std::vector<std::size_t> used = features;
  used.insert(used.end(), truth.columns.begin(), truth.columns.end());
  if (data.columns() != 0)
    data.use(features, truth.kind == Truth::Column ? truth.columns[0] : std::string::npos,
             other_columns(data.columns(), used));

  Evaluation e;
  const Classes classes = model_classes(model, k);
  if (truth.kind == Truth::Values) {
    e.regression.emplace(k);
    if (net.loss() == Loss::Poisson) e.deviance.emplace(k);
  } else e.start_classes(truth.kind == Truth::OneHot && model.info.class_names.empty() && !data.header().empty() &&
                               truth.columns.size() == k && k > 1
                           ? names_of(data.header(), truth.columns)  // the one-hot columns' names
                           : classes.names);
  Matrix<T> X(data.block_rows(), net.n_inputs()), P(data.block_rows(), k);
  std::vector<double> y(std::max<std::size_t>(truth.columns.size(), 1));
  const std::string rows_of = path + ", data";
  while (const std::size_t n = data.next()) {
    data.features(X);
    net.predict(X.view().rows_range(0, n), P.view().rows_range(0, n), pool_for(threads));
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t row = data.first_row() + i + 1;
      for (std::size_t j = 0; j < truth.columns.size(); ++j) y[j] = data.row(i)[truth.columns[j]];
      if (truth.kind == Truth::Values) {
        e.regression->add(P.data() + i * k, y.data());
        if (e.deviance) {
          check_poisson_targets(ConstMatrixView<double>(y.data(), 1, k), rows_of, row - 1);
          e.deviance->add(P.data() + i * k, y.data());
        }
        ++e.rows;
        continue;
      }
      std::size_t c;
      if (truth.kind == Truth::OneHot) {
        c = true_class_of_row(y.data(), y.size(), rows_of, row);
      } else {
        c = classes.index_of(data.label(i));
        if (c == std::string::npos)
          throw std::invalid_argument(rows_of + " row " + std::to_string(row) + ": class " + in_quotes(data.label(i)) +
                                      " is not one of the model's classes (" + listed(classes.names) + ")");
      }
      e.add(c, predicted_class_of_row(P.data() + i * k, k, rows_of, row));
    }
  }
  return e;
}

int cmd_eval(const std::vector<std::string>& args, std::ostream& out, std::ostream&,
             const Environment& env) {
  std::optional<std::size_t> labels;
  int threads = default_thread_count();
  std::string plot, target;
  bool no_header_row = false;
  const std::vector<Flag> flags = {
      {"--target", nullptr, true, [&](const std::string& v) { target = v; }},
      {"--no-header-row", nullptr, false, [&](const std::string&) { no_header_row = true; }},
      labels_flag(labels), threads_flag(threads), plot_flag(plot, env)};
  const auto files = model_and_data(args, flags, kEvalUsage, out);
  if (!files) return 0;
  const std::string &model_path = (*files)[0], &data = (*files)[1];
  if (!target.empty() && labels) throw UsageError("--target and --labels: give one");
  if (!plot.empty()) check_output("--plot", plot, {model_path, data});
  const Model model = load_model(model_path, data);
  const Evaluation e = std::visit(
      [&](const auto& net) {
        return evaluate_csv(model, net, data, target, labels, data_header_row(model, no_header_row, !target.empty()),
                            threads, env);
      },
      model.network);
  write_out(out, report(e, true));
  if (!plot.empty()) {
    if (e.regression) throw std::runtime_error("--plot: a regression has no confusion matrix to draw");
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
