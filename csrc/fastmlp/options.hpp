// A fit's options, and the one table that defines them.
//
// Each row of fit_option_table() is an option: its name (Python's keyword;
// the command line's flag is the same with dashes), its kind, its default,
// its valid range and one line of documentation. Validation, Python's keyword
// arguments (FitOptions.from_kwargs), the command line's flags and --help, and
// the docs' option table all come from the table. A new option is a member of
// FitOptions, a row, and the code that uses the value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fastmlp/optim.hpp>

namespace fastmlp {

// How a fit weighs each row by its class (multiplied into sample weights):
// not at all, as scikit-learn's "balanced" (n / (classes present *
// count[class])), or by a table of (class index, weight), classes left out
// weighing 1.
enum class ClassWeightKind { None, Balanced, PerClass };
struct ClassWeight {
  ClassWeightKind kind = ClassWeightKind::None;
  std::vector<std::pair<std::size_t, double>> per_class;  // PerClass: (class index, weight)
};

struct FitOptions {
  std::size_t epochs = 8000;       // passes over the data
  double learning_rate = 0.2;      // step size on the gradient (the schedule's starting rate)
  std::size_t batch_size = 0;      // rows per step; 0 (or >= n) is the full batch
  bool shuffle = true;             // reshuffle the rows every epoch (batches only)
  std::uint64_t seed = 0;          // the shuffles' (and the validation split's) seed
  std::uint64_t first_epoch = 0;   // epochs already trained: resumes the shuffle sequence
  int threads = 0;                 // threads to train on; 0: default_thread_count()
  OptimizerConfig optimizer;       // sgd: the article's W -= lr * dW
  Schedule schedule;               // the learning rate of each epoch; constant by default
  double l2 = 0;                   // l2 * W added to the weights' gradient at every step
  double clip_norm = 0;            // > 0: the gradient's global norm (after l2) clipped to it
  std::size_t early_stopping = 0;  // > 0: stop after this many epochs without improvement
  double tol = 1e-4;               // the improvement early stopping asks for
  bool clip_log_loss = false;      // cross_entropy: the training loss as scikit-learn's log_loss
  bool stop_on_divergence = true;  // throw Diverged at a non-finite loss or squared norm
  double validation_fraction = 0;  // in (0, 1): hold out that share of the rows (validation_split)
  ClassWeight class_weight;        // each training row's weight times its class's
  std::size_t callback_every = 1;  // FitHooks::callback runs after every this many epochs
};

// --- the table -----------------------------------------------------------------------

enum class OptionKind {
  Count,   // an unsigned integer
  Real,    // a finite number
  Flag,    // a bool; on the command line --name and --no-name
  Choice,  // one of the row's names
};

// A value given for an option, before it is checked: what Python passed or
// the command line's text parsed. `shown` is the value as the user wrote it
// and `type_name` its type (Python's) or text (the command line's), for
// messages.
struct OptionValue {
  enum class Type { None, Flag, Integer, Real, Name, Other } type = Type::None;
  bool flag = false;
  bool negative = false;        // Integer: -magnitude
  bool too_large = false;       // Integer: beyond 2^64 - 1
  std::uint64_t magnitude = 0;  // Integer
  double real = 0;              // Real
  std::string name;             // Name
  std::string shown;
  std::string type_name;
};

struct OptionSpec {
  const char* name;          // "learning_rate"
  const char* alias;         // another command-line flag ("--lr"), or nullptr
  OptionKind kind;
  const char* defaults;      // the default as the docs show it: "0.2", "None", "'sgd'"
  const char* none_means;    // what None (no value) means; nullptr: None is refused
  double low, high;          // Count and Real: the range, each end closed unless open
  bool low_open, high_open;
  std::vector<const char*> choices;  // Choice
  const char* metavar;       // the command line's value placeholder: "N", "X", "NAME"
  bool on_command_line;      // false for options that only make sense in Python
  const char* doc;           // one line
  // FitOptions' member, read and written as the kind's type (count: uint64,
  // real: double, flag: bool, choice: the name).
  OptionValue (*get)(const FitOptions&);
  void (*set)(FitOptions&, const OptionValue&);
};

// Every option of a fit, in the order the docs list them.
const std::vector<OptionSpec>& fit_option_table();

// The row named `name` (underscores; the command line's dashes are the
// caller's to translate), or nullptr.
const OptionSpec* find_fit_option(const std::string& name);

// The range rule as a phrase: "an integer >= 1", "a number in [0, 1)",
// "one of 'sgd', 'momentum'".
std::string option_rule(const OptionSpec& spec);

// Store `value` in `options` after checking it: std::invalid_argument
// "<name> must be <rule>; got <shown>" when it is out of range, and
// OptionTypeError when it is of the wrong type (a name for a number; None
// where the option has no None).
void set_fit_option(FitOptions& options, const OptionSpec& spec, const OptionValue& value);

// The value that the command line's `text` spells for `spec` (a Flag's text
// is "true" or "false"); it is checked when set.
OptionValue parse_option_text(const OptionSpec& spec, const std::string& text);

// Thrown for a value of the wrong type (Python's TypeError).
struct OptionTypeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// std::invalid_argument naming the first option out of its range, then the
// rules between options (lr_min <= learning_rate under the cosine schedule).
// Every fit runs it; values that mean "none" (0 for batch_size, clip_norm,
// early_stopping, validation_fraction, threads) pass.
void check_fit_options(const FitOptions& options);

// `v` in the fewest digits that read back to it ("0.1", "1e-09"), for messages.
std::string number_text(double v);

// The threads a fit or predict with `threads` runs on: itself, or
// default_thread_count() for 0.
int resolve_threads(int threads);

// The command line's lines for every option on it, for --help.
std::string fit_options_help();

}  // namespace fastmlp
