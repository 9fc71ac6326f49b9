// The command line's reading of a file's columns: target and features, classes,
// the hold-out, and a model's features found by name.
#include "columns.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include <fastmlp/errors.hpp>
#include <fastmlp/io_csv.hpp>
#include <fastmlp/io_file.hpp>
#include <fastmlp/options.hpp>
#include <fastmlp/rng.hpp>

namespace fastmlp::cli {

std::string listed(const std::vector<std::string>& names) {
  std::string text;
  const std::size_t shown = std::min<std::size_t>(names.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) text += (i ? ", " : "") + in_quotes(names[i]);
  if (shown < names.size()) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

std::size_t find_column(const std::string& spec, const std::vector<std::string>& header,
                        std::size_t columns, const char* flag, bool* by_name) {
  const auto named = std::find(header.begin(), header.end(), spec);
  if (named != header.end() && std::find(named + 1, header.end(), spec) != header.end())
    throw UsageError(std::string(flag) + ": the header names two columns " + in_quotes(spec) +
                     "; rename one, or give the column's 0-based index");
  std::size_t index = 0;
  const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), index);
  const bool is_index = !spec.empty() && ec == std::errc() && end == spec.data() + spec.size();
  if (named != header.end()) {
    const auto at = static_cast<std::size_t>(named - header.begin());
    if (is_index && index < columns && index != at)
      throw UsageError(std::string(flag) + ": " + in_quotes(spec) + " is both the name of column " +
                       std::to_string(at) + " and the index of column " + in_quotes(header[index]) +
                       "; give the other spelling of the one you mean (" + std::to_string(at) + " for the first, " +
                       in_quotes(header[index]) + " for the second)");
    if (by_name) *by_name = true;
    return at;
  }
  if (by_name) *by_name = false;
  if (is_index) {
    if (index < columns) return index;
    throw UsageError(std::string(flag) + ": column " + spec + " is past the file's " +
                     std::to_string(columns) + " columns (indices count from 0)");
  }
  if (header.empty())
    throw UsageError(std::string(flag) + ": no column " + in_quotes(spec) +
                     ": the file has no header; give a 0-based column index");
  // One column whose name holds ';' or a tab: the file is separated by another character.
  std::string separator;
  if (header.size() == 1)
    for (const char c : {';', '\t', '|'})
      if (header[0].find(c) != std::string::npos) separator = c == '\t' ? "tabs" : in_quotes(std::string(1, c));
  throw UsageError(std::string(flag) + ": no column " + in_quotes(spec) + "; the header's columns are " +
                   listed(header) +
                   (separator.empty() ? std::string()
                                      : " (the file seems separated by " + separator + "; only commas separate here)"));
}

void check_header_was_named(const std::vector<std::string>& header, bool any_by_name, const char* flag) {
  if (header.empty() || any_by_name) return;
  double value;
  const auto number = std::find_if(header.begin(), header.end(),
                                   [&](const std::string& name) { return parse_field_number(name, value); });
  if (number == header.end()) return;
  throw UsageError(std::string(flag) + ": the first row is read as the header (as pandas reads it), but it holds " +
                   in_quotes(*number) + ", a number, and no column was given by its name; give --no-header-row "
                   "if the file has no header, else name the columns as its header does");
}

HeaderRow header_row(const ColumnFlags& flags) {
  if (flags.no_header_row) return HeaderRow::No;
  return flags.target.empty() ? HeaderRow::Detect : HeaderRow::Yes;
}

Columns choose_columns(const ColumnFlags& flags, const std::vector<std::string>& header,
                       std::size_t columns) {
  Columns c;
  c.task = flags.task;
  if (!flags.target.empty() && flags.labels)
    throw UsageError("--target and --labels: give one (--labels N is for trailing one-hot columns)");
  if (!flags.features.empty() && flags.target.empty())
    throw UsageError("--features needs --target (the column that holds the label)");
  if (flags.target.empty()) {  // the article's layout: labels last, given or inferred
    c.layout = flags.task == Task::Regression ? Layout::Values : Layout::OneHot;
    if (c.layout == Layout::Values && !flags.labels)
      throw UsageError("a regression needs --target COLUMN[,COLUMN...] (or --labels N: the last N columns)");
    if (flags.labels) {
      if (columns <= *flags.labels)
        throw std::invalid_argument(std::to_string(columns) + " columns leave no features beside " +
                                    std::to_string(*flags.labels) + " label columns");
      for (std::size_t j = 0; j < columns; ++j)
        (j + *flags.labels < columns ? c.features : c.targets).push_back(j);
    }
    return c;
  }
  c.layout = flags.task == Task::Regression ? Layout::Values : Layout::Classes;
  bool any_by_name = false;
  auto column = [&](const std::string& spec, const char* flag) {
    bool by_name = false;
    const std::size_t j = find_column(spec, header, columns, flag, &by_name);
    any_by_name = any_by_name || by_name;
    return j;
  };
  for (const std::string& spec : flags.target) {
    const std::size_t j = column(spec, "--target");
    if (std::find(c.targets.begin(), c.targets.end(), j) != c.targets.end())
      throw UsageError("--target: column " + in_quotes(spec) + " is given twice");
    c.targets.push_back(j);
  }
  if (c.layout == Layout::Classes && c.targets.size() > 1)
    throw UsageError("--target: a classifier takes one target column (several are for regression: "
                     "--task regression or --output identity)");
  auto is_target = [&](std::size_t j) {
    return std::find(c.targets.begin(), c.targets.end(), j) != c.targets.end();
  };
  if (flags.features.empty()) {
    for (std::size_t j = 0; j < columns; ++j)
      if (!is_target(j)) c.features.push_back(j);
  } else {
    for (const std::string& spec : flags.features) {
      const std::size_t j = column(spec, "--features");
      if (is_target(j)) throw UsageError("--features: " + in_quotes(spec) + " is the target column");
      if (std::find(c.features.begin(), c.features.end(), j) != c.features.end())
        throw UsageError("--features: column " + in_quotes(spec) + " is given twice");
      c.features.push_back(j);
    }
  }
  check_header_was_named(header, any_by_name, "--target");
  if (c.features.empty()) throw std::invalid_argument("no feature columns beside the target");
  return c;
}

std::size_t infer_one_hot(const Table& t) {
  const std::size_t n = t.rows(), k = t.columns();
  auto binary = [&](std::size_t j) {
    for (std::size_t i = 0; i < n; ++i)
      if (t.values(i, j) != 0 && t.values(i, j) != 1) return false;
    return true;
  };
  std::size_t m_binary = 0;  // trailing columns of 0s and 1s
  while (m_binary < k - 1 && binary(k - 1 - m_binary)) ++m_binary;
  std::vector<std::size_t> fits;  // the counts m whose rows each sum to 1
  std::vector<double> sums(n, 0.0);
  for (std::size_t m = 1; m <= m_binary; ++m) {
    for (std::size_t i = 0; i < n; ++i) sums[i] += t.values(i, k - m);
    if (m >= 2 && std::all_of(sums.begin(), sums.end(), [](double s) { return s == 1; })) fits.push_back(m);
  }
  const std::string hint = "; give --target COLUMN for the column that holds the label" +
                           (t.header.empty() ? std::string(" (a 0-based index)")
                                             : " (one of " + listed(t.header) + ")") +
                           ", or --labels N for N one-hot label columns at the end";
  if (fits.size() == 1) return fits.front();
  if (fits.empty())
    throw std::invalid_argument(t.path + ": cannot tell which columns are the labels: the last columns "
                                "are not a one-hot block (0s and 1s, one 1 per row)" + hint);
  throw std::invalid_argument(t.path + ": cannot tell which columns are the labels: the last " +
                              std::to_string(fits[0]) + " and the last " + std::to_string(fits[1]) +
                              " columns both look one-hot" + hint);
}

// --- classes --------------------------------------------------------------------------

std::size_t Classes::index_of(const std::string& value) const {
  if (type == "int" || type == "float") {
    double v;
    if (!parse_field_number(value, v)) return std::string::npos;
    const auto it = std::find(numbers.begin(), numbers.end(), v);
    return it == numbers.end() ? std::string::npos : static_cast<std::size_t>(it - numbers.begin());
  }
  const auto it = std::find(names.begin(), names.end(), value);
  return it == names.end() ? std::string::npos : static_cast<std::size_t>(it - names.begin());
}

namespace {

// Whole numbers from 2^53 on are not all doubles: 2^53 and 2^53 + 1 would be one class.
constexpr double kExactIntegers = 9007199254740992.0;

void check_exact(const std::string& name, double v) {
  if (v == std::floor(v) && std::fabs(v) >= kExactIntegers)
    throw std::invalid_argument("class " + in_quotes(name) + ": whole numbers of 2^53 or more are not told "
                                "apart here (as numbers they may round to their neighbours); give such labels "
                                "as text, for example with a letter before them");
}

// pandas' spellings of a missing value (read_csv's default na_values): a label
// spelt so is a row without a class, not a class of its own.
bool is_missing(const std::string& v) {
  static const char* const kMissing[] = {"",     "#N/A", "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN",
                                         "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",    "NA",       "NULL",
                                         "NaN",  "None", "n/a",      "nan",  "null"};
  return std::find(std::begin(kMissing), std::end(kMissing), v) != std::end(kMissing);
}

}  // namespace

Classes classes_named(std::vector<std::string> names, const std::string& type) {
  Classes c;
  c.names = std::move(names);
  c.type = type;
  if (type == "int" || type == "float") {
    for (const std::string& name : c.names) {
      double v;
      // a model file's classes of a number type are numbers: its reader checks them
      if (!parse_number(name, v)) throw std::logic_error("class " + in_quotes(name) + " is not of type " + type);
      check_exact(name, v);
      c.numbers.push_back(v);
    }
  }
  return c;
}

Classes classes_of(const std::vector<std::string>& values) {
  // Numbers when every value is one (pandas reads such a column as numbers,
  // and scikit-learn sorts its classes numerically); else text.
  for (const std::string& v : values)
    if (is_missing(v))
      throw std::invalid_argument("the target column holds " + in_quotes(v) +
                                  ", which pandas reads as a missing value: a row without a class (drop such rows)");
  // pandas reads a column of True/False spellings as booleans: two classes
  // whichever way each row spells them; here each spelling is a class, so
  // more than one spelling of a value is refused rather than split.
  static const char* const kTrue[] = {"True", "true", "TRUE"};
  static const char* const kFalse[] = {"False", "false", "FALSE"};
  std::vector<std::string> spellings;
  for (const std::string& v : values) {
    const bool t = std::find(std::begin(kTrue), std::end(kTrue), v) != std::end(kTrue);
    const bool f = std::find(std::begin(kFalse), std::end(kFalse), v) != std::end(kFalse);
    if (!t && !f) {
      spellings.clear();
      break;
    }
    if (std::find(spellings.begin(), spellings.end(), v) == spellings.end()) spellings.push_back(v);
  }
  if (spellings.size() > 2)
    throw std::invalid_argument("the target column spells True and False more than one way (" + listed(spellings) +
                                "), which pandas reads as two classes: spell each one way");
  std::vector<double> numbers;
  numbers.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    double x;
    if (!parse_field_number(values[i], x) || !std::isfinite(x)) break;
    check_exact(values[i], x);
    numbers.push_back(x);
  }
  if (numbers.size() == values.size() && !values.empty()) {
    std::sort(numbers.begin(), numbers.end());
    numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
    const bool integers = std::all_of(numbers.begin(), numbers.end(), [](double x) {
      return x == std::floor(x) && std::fabs(x) < kExactIntegers;
    });
    std::vector<std::string> names;
    for (const double x : numbers) {
      if (integers) {
        names.push_back(std::to_string(static_cast<long long>(x)));
      } else {
        char digits[kMaxNumberChars];
        names.emplace_back(digits, format_number(x, digits));
      }
    }
    return classes_named(std::move(names), integers ? "int" : "float");
  }
  // Byte order of UTF-8 is code point order: Python's sorted() and NumPy's unique.
  std::vector<std::string> names = values;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return classes_named(std::move(names), "str");
}

void check_class_count(std::size_t classes, const std::string& what) {
  if (classes > kMaxClasses)
    throw std::invalid_argument(what + ": " + std::to_string(classes) + " classes, more than the " +
                                std::to_string(kMaxClasses) + " a classifier here takes (a column of ids, or of "
                                "numbers to predict: --task regression?)");
}

Matrix<double> one_hot(const Classes& classes, const std::vector<std::string>& values,
                       const std::string& what) {
  const std::size_t k = classes.names.size();
  check_class_count(k, what);
  if (k != 0 && values.size() > kMaxOneHotCells / k)
    throw std::invalid_argument(what + ": " + std::to_string(values.size()) + " rows x " + std::to_string(k) +
                                " classes make more one-hot cells than the " + std::to_string(kMaxOneHotCells) +
                                " a classifier here takes");
  Matrix<double> Y(values.size(), k);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t c = classes.index_of(values[i]);
    if (c == std::string::npos)
      throw std::invalid_argument(what + " row " + std::to_string(i + 1) + ": class " + in_quotes(values[i]) +
                                  " is not one of the training classes (" + listed(classes.names) + ")");
    Y(i, c) = 1;
  }
  return Y;
}

// --- the hold-out ---------------------------------------------------------------------

Split hold_out(std::size_t rows, const std::vector<std::size_t>* labels, std::size_t n_classes,
               double fraction, std::uint64_t seed, const std::vector<std::string>& class_names) {
  if (!(fraction > 0 && fraction < 1))
    throw UsageError("--test-fraction: expected a number between 0 and 1 (exclusive)");
  // Its own stream, apart from the initialisation's and the shuffles' of the same seed.
  Rng rng(seed ^ 0x2545f4914f6cdd1dULL);
  std::vector<std::vector<std::size_t>> groups(labels ? n_classes : 1);
  for (std::size_t i = 0; i < rows; ++i) groups[labels ? (*labels)[i] : 0].push_back(i);
  Split s;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::size_t>& rows_of = groups[g];
    const std::size_t n = rows_of.size();
    if (labels && n == 1)
      throw std::invalid_argument("--test-fraction: class " + in_quotes(class_names[g]) +
                                  " has 1 row; a stratified hold-out needs at least 2 of each class "
                                  "(or give --test FILE)");
    std::size_t n_test = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
    n_test = std::min(n_test, n == 0 ? 0 : n - 1);
    for (std::size_t i = n; i > 1; --i) std::swap(rows_of[i - 1], rows_of[rng.below(i)]);
    s.test.insert(s.test.end(), rows_of.begin(), rows_of.begin() + static_cast<std::ptrdiff_t>(n_test));
    s.train.insert(s.train.end(), rows_of.begin() + static_cast<std::ptrdiff_t>(n_test), rows_of.end());
  }
  if (s.test.empty())
    throw std::invalid_argument("--test-fraction " + number_text(fraction) + " of " + std::to_string(rows) +
                                " rows holds out no rows");
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

// --- a model's columns in a file ----------------------------------------------------------

std::vector<std::size_t> match_by_name(const std::vector<std::string>& wanted,
                                       const std::vector<std::string>& header, const std::string& path,
                                       const char* what) {
  std::map<std::string_view, std::size_t> column;
  std::map<std::string_view, bool> twice;
  for (std::size_t j = 0; j < header.size(); ++j)
    if (!column.emplace(header[j], j).second) twice[header[j]] = true;
  std::vector<std::size_t> found;
  for (const std::string& name : wanted) {
    const auto it = column.find(name);
    if (it == column.end()) {
      double value;
      const bool numbers = std::all_of(header.begin(), header.end(),
                                       [&](const std::string& h) { return parse_field_number(h, value); });
      throw std::invalid_argument(path + " has no column " + in_quotes(name) + ", one of the model's " + what +
                                  " (its header: " + listed(header) + ")" +
                                  (numbers ? "; a file without a header row takes --no-header-row" : ""));
    }
    if (twice.count(name))
      throw std::invalid_argument(path + ": the header names two columns " + in_quotes(name) +
                                  "; the model needs one");
    found.push_back(it->second);
  }
  return found;
}

namespace {

// Whether every value of column `column` of the regular file `path` is one of
// `classes`; stops at the first that is not (most columns fail on their first row).
// Which of the `candidates` columns hold only classes, read in one pass (a
// pass per column made eval quadratic in the columns of a wide file); nullopt
// when the file cannot be read so (a field it refuses, such as an empty one).
std::optional<std::vector<std::size_t>> class_columns(const std::string& path, HeaderRow header_row,
                                       const std::vector<std::size_t>& candidates, const Classes& classes) {
  try {
    std::ifstream in;
    open_csv(in, path);
    CsvReader reader(in, path, CsvReader::kBlockBytes, header_row);
    const std::size_t columns = reader.columns();
    std::vector<std::size_t> kept, ignored;  // kept: the candidates in column order, as `text` holds them
    for (std::size_t j = 0; j < columns; ++j)
      (std::find(candidates.begin(), candidates.end(), j) != candidates.end() ? kept : ignored).push_back(j);
    if (kept.empty()) return std::vector<std::size_t>{};
    reader.keep_text(kept, ignored);
    std::vector<char> alive(kept.size(), 1);
    std::size_t left = kept.size();
    const std::size_t block = std::clamp<std::size_t>((std::size_t(1) << 17) / columns, 1, 1024);
    std::vector<double> values(block * columns);
    std::vector<std::string> text;
    while (left != 0 && reader.read(values.data(), block, &text) != 0) {
      for (std::size_t i = 0; i < text.size(); ++i) {
        const std::size_t c = i % kept.size();
        if (alive[c] && classes.index_of(text[i]) == std::string::npos) {
          alive[c] = 0;
          --left;
        }
      }
      text.clear();
    }
    std::vector<std::size_t> found;
    for (std::size_t c = 0; c < kept.size(); ++c)
      if (alive[c]) found.push_back(kept[c]);
    return found;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<std::size_t> columns_of_classes(const std::string& path, HeaderRow header_row,
                                            const std::vector<std::size_t>& candidates, const Classes& classes) {
  // Only a regular file reads the same twice (not standard input, nor a pipe
  // whose rows this reading would take from the evaluation's).
  std::error_code ec;
  if (path == "-" || !std::filesystem::is_regular_file(fs_path(path), ec)) return {};
  if (auto found = class_columns(path, header_row, candidates, classes)) return *found;
  // A field refused in one column (an empty one): the columns one at a time,
  // as many passes as a file of ordinary width needs and no more.
  std::vector<std::size_t> found;
  if (candidates.size() > 32) return found;
  for (const std::size_t j : candidates) {
    const auto one = class_columns(path, header_row, {j}, classes);
    if (one && !one->empty()) found.push_back(j);
  }
  return found;
}

void check_unique_names(const std::vector<std::string>& header, const std::vector<std::size_t>& used,
                        const std::string& path) {
  if (header.empty()) return;
  for (const std::size_t j : used) {
    std::vector<std::size_t> same;  // every column with j's name, used or not
    for (std::size_t k = 0; k < header.size(); ++k)
      if (header[k] == header[j]) same.push_back(k);
    if (same.size() < 2) continue;
    std::string where;
    for (std::size_t i = 0; i < same.size(); ++i)
      where += (i ? (i + 1 == same.size() ? " and " : ", ") : "") + std::to_string(same[i] + 1);
    throw std::invalid_argument(path + ": the header names columns " + where + " " + in_quotes(header[j]) +
                                "; column names must be unique (rename one, or leave it out with --features)");
  }
}

}  // namespace fastmlp::cli
