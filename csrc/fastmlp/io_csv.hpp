// Reading numeric CSV files: features first, then the label columns.
//
// A first row that is not all numbers is taken as the header. Fields are
// comma-separated numbers; surrounding spaces and a trailing \r are ignored,
// blank lines skipped. Every bad field is an error naming the file, the line
// and the column; NaN and infinities are refused, never read silently.
// CsvReader streams rows in blocks into the caller's buffer (no allocation per
// row, memory bounded by the block and the longest line); read_csv reads a
// whole file. Not a general CSV parser: no quoting, no other separators.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

// --- streaming ---------------------------------------------------------------------

class CsvReader {
 public:
  // The longest line accepted: a guard against a file without line breaks.
  static constexpr std::size_t kMaxLineBytes = std::size_t(64) << 20;

  // Reads up to the first data row (to find the header and the column count);
  // `name` stands for the file in messages. `in` must outlive the reader.
  CsvReader(std::istream& in, std::string name);

  const std::vector<std::string>& header() const noexcept { return header_; }  // empty if none
  std::size_t columns() const noexcept { return columns_; }  // 0 when there is no data row

  // Reads up to `max_rows` rows into `out` (max_rows x columns(), row-major);
  // returns the rows read, 0 at the end. std::invalid_argument names the file,
  // line and column of a bad field; std::runtime_error a read error.
  std::size_t read(double* out, std::size_t max_rows);

 private:
  bool next_line();                         // the next line into line_; false at the end
  // fields_ into out; a field that is no number throws, or returns false
  // when !throw_if_bad (the header test); a non-finite number always throws.
  bool parse_row(double* out, bool throw_if_bad);

  std::istream& in_;
  std::string name_;
  std::vector<char> buf_;  // read in blocks; lines are cut from here
  std::size_t pos_ = 0, end_ = 0;
  std::string line_;
  std::vector<std::string_view> fields_;
  std::vector<std::string> header_;
  std::vector<double> first_row_;  // the first data row, read by the constructor
  bool first_pending_ = false;
  std::size_t columns_ = 0, line_no_ = 0;
};

// --- whole files --------------------------------------------------------------------

struct CsvData {
  std::vector<std::string> header;  // empty when the file has none
  Matrix<double> X;                 // (rows, columns - labels)
  Matrix<double> Y;                 // (rows, labels)
};

// Read `path`, its last `n_labels` columns into Y and the others into X.
// Throws FileError (unreadable file) or std::invalid_argument (bad contents),
// the message naming the file, line and column.
CsvData read_csv(const std::string& path, std::size_t n_labels);

// The same from a stream; `name` stands for the file in messages.
CsvData read_csv(std::istream& in, const std::string& name, std::size_t n_labels);

// The number that all of `text` spells, as std::from_chars reads it (an
// optional sign, digits, point, exponent; inf and nan too, which callers
// refuse), into `value`; false when it is not one number or out of range.
// The same on every platform and in every locale.
bool parse_number(std::string_view text, double& value);

// The most characters format_number writes.
constexpr std::size_t kMaxNumberChars = 32;

// Writes into `out` (kMaxNumberChars long) the shortest text that
// parse_number reads back to exactly `value` (for a float: once rounded to
// float), and returns its length. The same on every platform and in every
// locale. T is float or double.
template <class T>
std::size_t format_number(T value, char* out);

}  // namespace fastmlp
