// The table of fit options and what reads it: checks, the command line's
// text, --help. Python's side (FitOptions.from_kwargs) is in the module; it
// turns Python values into OptionValues and calls set_fit_option.
#include <fastmlp/options.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fastmlp/errors.hpp>
#include <fastmlp/io_csv.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

namespace {

// --- values <-> FitOptions' members ---------------------------------------------------

OptionValue of_count(std::uint64_t v) {
  OptionValue value;
  value.type = OptionValue::Type::Integer;
  value.magnitude = v;
  value.shown = std::to_string(v);
  return value;
}

OptionValue of_real(double v) {
  OptionValue value;
  value.type = OptionValue::Type::Real;
  value.real = v;
  value.shown = number_text(v);
  return value;
}

OptionValue of_flag(bool v) {
  OptionValue value;
  value.type = OptionValue::Type::Flag;
  value.flag = v;
  value.shown = v ? "true" : "false";
  return value;
}

OptionValue of_name(const char* v) {
  OptionValue value;
  value.type = OptionValue::Type::Name;
  value.name = v;
  value.shown = in_quotes(v);
  return value;
}

// set_fit_option has checked the value's type and range before these run.
double real_of(const OptionValue& v) {
  return v.type == OptionValue::Type::Integer ? static_cast<double>(v.magnitude) : v.real;
}

// A row's accessors, as captureless lambdas over one member expression.
#define FASTMLP_COUNT(member)                                                        \
  [](const FitOptions& o) { return of_count(static_cast<std::uint64_t>(o.member)); }, \
      [](FitOptions& o, const OptionValue& v) { o.member = static_cast<decltype(o.member)>(v.magnitude); }
#define FASTMLP_REAL(member)                                 \
  [](const FitOptions& o) { return of_real(o.member); }, \
      [](FitOptions& o, const OptionValue& v) { o.member = real_of(v); }
#define FASTMLP_FLAG(member)                                 \
  [](const FitOptions& o) { return of_flag(o.member); }, \
      [](FitOptions& o, const OptionValue& v) { o.member = v.flag; }

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxCount = 18446744073709551615.0;  // 2^64 - 1, shown exactly by option_rule

std::vector<OptionSpec> make_table() {
  const double max_threads = ThreadPool::kMaxThreads;
  return {
      {"epochs", nullptr, OptionKind::Count, "8000", nullptr, 0, kMaxCount, false, false, {}, "N", true,
       "passes over the training data (0 trains nothing)", FASTMLP_COUNT(epochs)},
      {"learning_rate", "--lr", OptionKind::Real, "0.2", nullptr, 0, kInf, false, true, {}, "X", true,
       "the step size (the schedule's starting rate), on the gradient under the network's reduction",
       FASTMLP_REAL(learning_rate)},
      {"batch_size", nullptr, OptionKind::Count, "None", "the whole data set per step", 1, kMaxCount,
       false, false, {}, "N", true,
       "rows per step, reshuffled every epoch; the last batch may be smaller", FASTMLP_COUNT(batch_size)},
      {"shuffle", nullptr, OptionKind::Flag, "True", nullptr, 0, 0, false, false, {}, nullptr, true,
       "with batches, reshuffle the rows every epoch from the seed and the epoch's number",
       FASTMLP_FLAG(shuffle)},
      {"threads", nullptr, OptionKind::Count, "None",
       "threadpoolctl's limit, else FASTMLP_NUM_THREADS, else the CPUs this process may use "
       "(at most OMP_NUM_THREADS)", 1, max_threads, false, false, {},
       "N", true, "threads to train on; the result is the same for any number",
       [](const FitOptions& o) { return of_count(static_cast<std::uint64_t>(o.threads)); },
       [](FitOptions& o, const OptionValue& v) { o.threads = static_cast<int>(v.magnitude); }},
      {"optimizer", nullptr, OptionKind::Choice, "'sgd'", nullptr, 0, 0, false, false,
       {"sgd", "momentum", "adam", "adamw"}, "NAME", true,
       "the update rule: the article's W -= lr * g, or PyTorch's SGD with momentum, Adam, AdamW",
       [](const FitOptions& o) { return of_name(optimizer_name(o.optimizer.kind)); },
       [](FitOptions& o, const OptionValue& v) { o.optimizer.kind = optimizer_from_name(v.name); }},
      {"momentum", nullptr, OptionKind::Real, "0.9", nullptr, 0, 1, false, true, {}, "X", true,
       "momentum: the velocity's decay mu", FASTMLP_REAL(optimizer.momentum)},
      {"nesterov", nullptr, OptionKind::Flag, "False", nullptr, 0, 0, false, false, {}, nullptr, true,
       "momentum: Nesterov's form", FASTMLP_FLAG(optimizer.nesterov)},
      {"beta1", nullptr, OptionKind::Real, "0.9", nullptr, 0, 1, false, true, {}, "X", true,
       "adam, adamw: the first moment's decay", FASTMLP_REAL(optimizer.beta1)},
      {"beta2", nullptr, OptionKind::Real, "0.999", nullptr, 0, 1, false, true, {}, "X", true,
       "adam, adamw: the second moment's decay", FASTMLP_REAL(optimizer.beta2)},
      {"eps", nullptr, OptionKind::Real, "1e-08", nullptr, 0, kInf, true, true, {}, "X", true,
       "adam, adamw: added to sqrt(v)", FASTMLP_REAL(optimizer.eps)},
      {"eps_hat", nullptr, OptionKind::Flag, "False", nullptr, 0, 0, false, false, {}, nullptr, true,
       "adam, adamw: add eps before the bias correction, as scikit-learn and Keras do",
       FASTMLP_FLAG(optimizer.eps_hat)},
      {"weight_decay", nullptr, OptionKind::Real, "0.01", nullptr, 0, kInf, false, true, {}, "X", true,
       "adamw: the decoupled decay rate of the weights", FASTMLP_REAL(optimizer.weight_decay)},
      {"schedule", nullptr, OptionKind::Choice, "'constant'", nullptr, 0, 0, false, false,
       {"constant", "step", "invscaling", "cosine"}, "NAME", true,
       "the learning rate of each epoch: constant, step decay, scikit-learn's invscaling, cosine",
       [](const FitOptions& o) { return of_name(schedule_name(o.schedule.kind)); },
       [](FitOptions& o, const OptionValue& v) { o.schedule.kind = schedule_from_name(v.name); }},
      {"step_size", nullptr, OptionKind::Count, "10", nullptr, 1, kMaxCount, false, false, {}, "N", true,
       "step: epochs between decays", FASTMLP_COUNT(schedule.step_size)},
      {"gamma", nullptr, OptionKind::Real, "0.1", nullptr, 0, kInf, true, true, {}, "X", true,
       "step: the factor of each decay", FASTMLP_REAL(schedule.gamma)},
      {"power_t", nullptr, OptionKind::Real, "0.5", nullptr, 0, kInf, false, true, {}, "X", true,
       "invscaling: the exponent", FASTMLP_REAL(schedule.power_t)},
      {"lr_min", nullptr, OptionKind::Real, "0.0", nullptr, 0, kInf, false, true, {}, "X", true,
       "cosine: the rate approached at the end, at most learning_rate", FASTMLP_REAL(schedule.lr_min)},
      {"l2", nullptr, OptionKind::Real, "0.0", nullptr, 0, kInf, false, true, {}, "X", true,
       "l2 * W added to the weights' gradient at every step", FASTMLP_REAL(l2)},
      {"clip_norm", nullptr, OptionKind::Real, "None", "no clipping", 0, kInf, true, true, {}, "X", true,
       "rescale the gradient (after l2) to this global norm at most", FASTMLP_REAL(clip_norm)},
      {"class_weight", nullptr, OptionKind::Choice, "None", "every class weighs 1", 0, 0, false, false,
       {"balanced"}, "NAME", true,
       "weigh each row by its class: 'balanced' (scikit-learn's), or in Python a dict {class index: weight}",
       [](const FitOptions& o) {
         // a table's entries are checked against the classes when the fit has them
         return o.class_weight.kind == ClassWeightKind::Balanced ? of_name("balanced") : OptionValue{};
       },
       [](FitOptions& o, const OptionValue& v) {
         o.class_weight = {v.type == OptionValue::Type::None ? ClassWeightKind::None : ClassWeightKind::Balanced, {}};
       }},
      {"validation_fraction", nullptr, OptionKind::Real, "None", "no held-out rows", 0, 1, true, true, {},
       "X", true, "hold out this share of the rows, drawn from the seed, and report their figures",
       FASTMLP_REAL(validation_fraction)},
      {"early_stopping", nullptr, OptionKind::Count, "None", "no early stopping", 1, kMaxCount, false,
       false, {}, "N", true,
       "stop after this many epochs without the validation (else training) loss improving by tol, "
       "and keep the best parameters",
       FASTMLP_COUNT(early_stopping)},
      {"tol", nullptr, OptionKind::Real, "0.0001", nullptr, 0, kInf, false, true, {}, "X", true,
       "the improvement early stopping asks for, in the loss's units", FASTMLP_REAL(tol)},
      {"clip_log_loss", nullptr, OptionKind::Flag, "False", nullptr, 0, 0, false, false, {}, nullptr, true,
       "cross_entropy: the training loss takes each probability clipped to [eps, 1 - eps] (eps: the "
       "dtype's), as scikit-learn's log_loss, for early stopping and the record; the gradient is unchanged",
       FASTMLP_FLAG(clip_log_loss)},
      {"on_divergence", nullptr, OptionKind::Choice, "'raise'", nullptr, 0, 0, false, false,
       {"raise", "continue"}, "NAME", true,
       "at a NaN or infinite loss, or a parameter NaN, infinite or too large to square: raise (keeping "
       "the last finite epoch) or continue",
       [](const FitOptions& o) { return of_name(o.stop_on_divergence ? "raise" : "continue"); },
       [](FitOptions& o, const OptionValue& v) { o.stop_on_divergence = v.name == "raise"; }},
      {"callback_every", nullptr, OptionKind::Count, "1", nullptr, 1, kMaxCount, false, false, {}, "N",
       false, "call the callback after every this many epochs, and after the last",
       FASTMLP_COUNT(callback_every)},
  };
}

#undef FASTMLP_COUNT
#undef FASTMLP_REAL
#undef FASTMLP_FLAG

std::string shown_bound(double v) { return v == kMaxCount ? "18446744073709551615" : number_text(v); }

// Whether a stored value is the option's "none" (0 for numbers, no name).
bool is_none(const OptionSpec& spec, const OptionValue& v) {
  if (spec.none_means == nullptr) return false;
  switch (v.type) {
    case OptionValue::Type::None: return true;
    case OptionValue::Type::Integer: return v.magnitude == 0;
    case OptionValue::Type::Real: return v.real == 0;
    default: return false;
  }
}

[[noreturn]] void out_of_range(const OptionSpec& spec, const std::string& shown) {
  throw std::invalid_argument(std::string(spec.name) + " must be " + option_rule(spec) + "; got " + shown);
}

// `v` as a message shows it, said to be past the integers when it is
std::string shown_count(const OptionValue& v) {
  return v.too_large ? v.shown + " (more than 2^64 - 1)" : v.shown;
}

// The type check and range check of set_fit_option.
void check_value(const OptionSpec& spec, const OptionValue& v) {
  using Type = OptionValue::Type;
  const std::string name = spec.name;
  if (v.type == Type::None) {
    if (spec.none_means == nullptr) throw OptionTypeError(name + " must not be None");
    return;
  }
  const std::string& got = v.type_name.empty() ? v.shown : v.type_name;
  switch (spec.kind) {
    case OptionKind::Flag:
      if (v.type != Type::Flag) throw OptionTypeError(name + " must be a bool; got " + got);
      return;
    case OptionKind::Choice:
      if (v.type != Type::Name) throw OptionTypeError(name + " must be a str; got " + got);
      for (const char* choice : spec.choices)
        if (v.name == choice) return;
      out_of_range(spec, v.shown);
    case OptionKind::Count:
      if (v.type != Type::Integer) throw OptionTypeError(name + " must be an int; got " + got);
      if (v.too_large || v.negative || static_cast<double>(v.magnitude) < spec.low ||
          static_cast<double>(v.magnitude) > spec.high)
        out_of_range(spec, shown_count(v));
      return;
    case OptionKind::Real: {
      if (v.type != Type::Real && v.type != Type::Integer)
        throw OptionTypeError(name + " must be a real number; got " + got);
      const double x = v.type == Type::Integer ? (v.negative ? -1.0 : 1.0) * static_cast<double>(v.magnitude)
                                               : v.real;
      const bool above = spec.low_open ? x > spec.low : x >= spec.low;
      const bool below = spec.high_open ? x < spec.high : x <= spec.high;
      if (!std::isfinite(x) || !above || !below || v.too_large) out_of_range(spec, v.shown);
      return;
    }
  }
}

}  // namespace

const std::vector<OptionSpec>& fit_option_table() {
  static const std::vector<OptionSpec> table = make_table();
  return table;
}

const OptionSpec* find_fit_option(const std::string& name) {
  for (const OptionSpec& spec : fit_option_table())
    if (name == spec.name) return &spec;
  return nullptr;
}

std::string option_rule(const OptionSpec& spec) {
  switch (spec.kind) {
    case OptionKind::Flag: return "true or false";
    case OptionKind::Choice: {
      std::string listed;
      for (const char* choice : spec.choices) listed += (listed.empty() ? "'" : ", '") + std::string(choice) + "'";
      return spec.choices.size() == 1 ? listed : "one of " + listed;
    }
    case OptionKind::Count:
      if (spec.high == kMaxCount)
        return spec.low == 0 ? "an integer >= 0" : "an integer >= " + shown_bound(spec.low);
      return "an integer in [" + shown_bound(spec.low) + ", " + shown_bound(spec.high) + "]";
    case OptionKind::Real:
      if (spec.high == kInf) return "a finite number " + std::string(spec.low_open ? "> " : ">= ") + shown_bound(spec.low);
      return "a number in " + std::string(spec.low_open ? "(" : "[") + shown_bound(spec.low) + ", " +
             shown_bound(spec.high) + (spec.high_open ? ")" : "]");
  }
  return "";
}

void set_fit_option(FitOptions& options, const OptionSpec& spec, const OptionValue& value) {
  check_value(spec, value);
  if (value.type == OptionValue::Type::None) {
    // none is the zero of the member (its accessor reads 0, or no name)
    OptionValue zero = spec.kind == OptionKind::Real ? of_real(0) : of_count(0);
    zero.type = spec.kind == OptionKind::Choice ? OptionValue::Type::None : zero.type;
    spec.set(options, zero);
    return;
  }
  spec.set(options, value);
}

OptionValue parse_option_text(const OptionSpec& spec, const std::string& text) {
  OptionValue v;
  v.shown = v.type_name = in_quotes(text);
  switch (spec.kind) {
    case OptionKind::Flag:
      v.type = OptionValue::Type::Flag;
      v.flag = text == "true";
      if (text != "true" && text != "false") v.type = OptionValue::Type::Name;
      return v;
    case OptionKind::Choice:
      v.type = OptionValue::Type::Name;
      v.name = text;
      return v;
    case OptionKind::Count: {
      // digits, with an optional minus: a number past 2^64 - 1 or below 0 is
      // out of range (said so), anything else is not an integer
      const bool negative = !text.empty() && text[0] == '-';
      const std::string digits = negative ? text.substr(1) : text;
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        v.type = OptionValue::Type::Name;  // not an integer: a type error
        return v;
      }
      v.type = OptionValue::Type::Integer;
      v.negative = negative && digits.find_first_not_of('0') != std::string::npos;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v.magnitude);
      v.too_large = ec != std::errc() || end != digits.data() + digits.size();
      v.shown = text.size() > 40 ? in_quotes(text) : text;
      return v;
    }
    case OptionKind::Real:
      // a number past double's range (1e999, 1e-400) is a number all the
      // same: out of range, or 0, as Python's float() reads it
      if (!parse_number_as_python(text, v.real)) {
        v.type = OptionValue::Type::Name;
        return v;
      }
      v.type = OptionValue::Type::Real;
      v.shown = text.size() > 40 ? in_quotes(text) : text;
      return v;
  }
  return v;
}

void check_fit_options(const FitOptions& options) {
  for (const OptionSpec& spec : fit_option_table()) {
    const OptionValue v = spec.get(options);
    if (!is_none(spec, v)) check_value(spec, v);
  }
  if (options.schedule.kind == ScheduleKind::Cosine && options.schedule.lr_min > options.learning_rate)
    throw std::invalid_argument("lr_min must not exceed learning_rate (" + number_text(options.learning_rate) +
                                "); got " + number_text(options.schedule.lr_min));
}

std::string number_text(double v) {
  char digits[kMaxNumberChars];
  return std::string(digits, format_number(v, digits));
}

int resolve_threads(int threads) { return threads == 0 ? default_thread_count() : threads; }

std::string fit_options_help() {
  std::string text;
  for (const OptionSpec& spec : fit_option_table()) {
    if (!spec.on_command_line) continue;
    std::string flag = std::string("--") + spec.name;
    for (char& c : flag)
      if (c == '_') c = '-';
    std::string left = "  " + flag;
    if (spec.kind == OptionKind::Flag) {
      left += ", --no-" + flag.substr(2);
    } else {
      left += std::string(" ") + spec.metavar;
      if (spec.alias != nullptr) left += std::string(", ") + spec.alias + " " + spec.metavar;
    }
    // the default as the command line spells it: on/off, names unquoted
    std::string shown = spec.none_means != nullptr ? spec.none_means : spec.defaults;
    if (spec.kind == OptionKind::Flag) shown = shown == "True" ? "on" : "off";
    if (spec.kind == OptionKind::Choice && spec.none_means == nullptr) shown = shown.substr(1, shown.size() - 2);
    const std::string right = std::string(spec.doc) + " (default: " + shown + ")";
    // the description on the same line when the flag is short, wrapped at 79 columns
    constexpr std::size_t kColumn = 26, kWidth = 79;
    std::string line = left;
    if (line.size() + 2 > kColumn) {
      text += line + "\n";
      line.clear();
    }
    std::size_t at = 0;
    while (at < right.size()) {
      line.append(kColumn - line.size(), ' ');
      std::size_t take = std::min(right.size() - at, kWidth - kColumn);
      if (at + take < right.size()) {
        const std::size_t space = right.rfind(' ', at + take);
        if (space != std::string::npos && space > at) take = space - at;
      }
      line += right.substr(at, take);
      text += line + "\n";
      line.clear();
      at += take;
      while (at < right.size() && right[at] == ' ') ++at;
    }
  }
  return text;
}

}  // namespace fastmlp
