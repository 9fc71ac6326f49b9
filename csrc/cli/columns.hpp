// What the command line makes of a CSV file's columns: which are features and
// which the target (--target, --features, --labels, or a trailing one-hot block
// found in the data), the classes of a target column, the stratified hold-out
// of --test-fraction, and the matching of a model's features to a file's
// columns by name.
//
// Not the reading itself (io_csv.hpp) nor the commands (cli.cpp). Errors are
// std::invalid_argument (the data's fault) or UsageError (the flags').
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/io_safetensors.hpp>
#include <fastmlp/matrix.hpp>

namespace fastmlp::cli {

// A mistake in the command line: exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --- a file read whole --------------------------------------------------------------

// A CSV file's rows, its text columns (the target's class names) kept as text.
struct Table {
  std::string path;
  std::vector<std::string> header;        // empty when the file has none
  Matrix<double> values;                  // (rows, columns); text columns hold NaN
  std::vector<std::size_t> text_columns;  // increasing
  std::vector<std::string> text;          // (rows, text_columns.size()), row-major
  std::size_t columns() const { return values.cols(); }
  std::size_t rows() const { return values.rows(); }
};

// The column `spec` names in a file of `columns` columns with `header` (empty:
// none): the column whose header name is exactly `spec`, else the column whose
// 0-based index `spec` spells. A spec that is both a name and an index of two
// different columns is refused (UsageError asking for the other spelling), as
// is one that matches nothing (listing the header's names). `by_name` (when
// given) says whether the header name matched.
std::size_t find_column(const std::string& spec, const std::vector<std::string>& header,
                        std::size_t columns, const char* flag, bool* by_name = nullptr);

// Whether the first row of a file whose columns `flag` names is its header:
// always (as pandas reads it) unless --no-header-row says there is none.
// Refuses (UsageError) a header that holds a number when no column was named
// by it (`any_by_name` false): such a first row is as likely data, and taking
// it as names would drop a row in silence.
void check_header_was_named(const std::vector<std::string>& header, bool any_by_name, const char* flag);

// --- the training file's layout -----------------------------------------------------

enum class Layout {
  OneHot,   // label columns, one per output (or one 0/1 column): the article's files
  Classes,  // one target column of class names or numbers: one output per class
  Values,   // target columns of numbers, one output each (regression)
};

// Where the features and the targets are in a training file.
struct Columns {
  Layout layout = Layout::OneHot;
  Task task = Task::Classification;
  std::vector<std::size_t> features, targets;  // column indices
};

// What the flags say; `task` already resolved from --task and --output.
struct ColumnFlags {
  std::vector<std::string> target, features;  // --target, --features
  std::optional<std::size_t> labels;           // --labels
  bool no_header_row = false;                  // --no-header-row
  Task task = Task::Classification;
  bool task_given = false;  // --task was given
};

// Whether the first row of the training (and test) file is its header: never
// with --no-header-row; always when columns are named (--target), as pandas
// reads a file; else found from the row (the one-hot layout's files).
HeaderRow header_row(const ColumnFlags& flags);

// The columns of a file with `header` and `columns` columns as `flags` say,
// before its rows are read (a one-hot block to be inferred has no targets yet).
Columns choose_columns(const ColumnFlags& flags, const std::vector<std::string>& header,
                       std::size_t columns);

// The trailing one-hot block of `table` when neither --target nor --labels is
// given: the only count m >= 2 of last columns holding 0 and 1 with every row
// summing to 1; else std::invalid_argument suggesting --target.
std::size_t infer_one_hot(const Table& table);

// --- classes ------------------------------------------------------------------------

// A target column's classes: names sorted as scikit-learn sorts classes_
// (numerically when every value is a number, else as text).
struct Classes {
  std::vector<std::string> names;
  std::string type;              // "int", "float" or "str" (the model file's classes_type)
  std::vector<double> numbers;   // "int" and "float": each class's value
  // The class of a value, or npos; numbers match by value ("01" and "1.0" are 1).
  std::size_t index_of(const std::string& value) const;
};

// Classes known by name (type "str") or by number ("int", "float"), in the order given.
Classes classes_named(std::vector<std::string> names, const std::string& type);

// The classes of the text values in `values` (their canonical spelling).
Classes classes_of(const std::vector<std::string>& values);

// The most classes a target column may hold, and the most cells (rows x
// classes) of one-hot targets: far past a dense network's use, and refused
// before anything of that size is allocated (a column of ids or of numbers
// to predict, taken for classes, would otherwise fill the memory).
constexpr std::size_t kMaxClasses = 10'000;
constexpr std::size_t kMaxOneHotCells = std::size_t(1) << 28;

// Refuses (std::invalid_argument naming `what`) more than kMaxClasses classes.
void check_class_count(std::size_t classes, const std::string& what);

// One-hot rows (values.size(), classes.names.size()) for the values; a value
// that is not a class is std::invalid_argument naming `what` and its row, and
// so is a matrix of more than kMaxOneHotCells cells.
Matrix<double> one_hot(const Classes& classes, const std::vector<std::string>& values,
                       const std::string& what);

// --- the hold-out -------------------------------------------------------------------

// Rows for training and for testing, each increasing.
struct Split {
  std::vector<std::size_t> train, test;
};

// A seeded hold-out of round(fraction * rows) rows. With `labels` (a class per
// row), stratified: each class gives round(fraction * its rows), keeping at
// least one row for training (a class of one row is an error). The rows are
// drawn by Fisher-Yates shuffles from the project's Rng.
Split hold_out(std::size_t rows, const std::vector<std::size_t>* labels, std::size_t n_classes,
               double fraction, std::uint64_t seed, const std::vector<std::string>& class_names);

// --- a model's columns in a file ------------------------------------------------------

// The column of each name of `wanted` in `header`; std::invalid_argument naming
// `path` and the first missing name (listing the header's names), or a needed
// name the header holds twice.
std::vector<std::size_t> match_by_name(const std::vector<std::string>& wanted,
                                       const std::vector<std::string>& header, const std::string& path,
                                       const char* what);

// The columns among `candidates` of the CSV file at `path` (its first row read
// as `header_row` says) whose every value is one of `classes`: the file read
// again, in blocks, for each candidate (little memory). None when the file cannot be read twice (standard input, a pipe); a
// column with a field the reader refuses (an empty one) is not among them.
std::vector<std::size_t> columns_of_classes(const std::string& path, HeaderRow header_row,
                                            const std::vector<std::size_t>& candidates, const Classes& classes);

// Refuses (std::invalid_argument naming `path`, the name and its 1-based
// columns) a header naming twice one of the `used` columns: a model that
// records its features by name must find each in one place. Names of other
// columns may repeat (they are skipped). No header: nothing to check.
void check_unique_names(const std::vector<std::string>& header, const std::vector<std::size_t>& used,
                        const std::string& path);

// A header's names, quoted, comma-separated (the first few when there are many).
std::string listed(const std::vector<std::string>& names);

}  // namespace fastmlp::cli
