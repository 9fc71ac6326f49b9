// Reading numeric CSV files: features first, then the label columns.
//
// A first row that is not all numbers is taken as the header. Fields are
// comma-separated numbers; surrounding spaces and a trailing \r are ignored,
// blank lines skipped. Every bad field is an error naming the file, the line
// and the column; NaN and infinities are refused, never read silently.
// Not a general CSV parser: no quoting, no other separators.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

struct CsvData {
  std::vector<std::string> header;  // empty when the file has none
  Matrix<double> X;                 // (rows, columns - labels)
  Matrix<double> Y;                 // (rows, labels)
};

// Read `path`, its last `n_labels` columns into Y and the others into X.
// Throws std::runtime_error (unreadable file) or std::invalid_argument (bad
// contents), the message naming the file, line and column.
CsvData read_csv(const std::string& path, std::size_t n_labels);

// The same from a stream; `name` stands for the file in messages.
CsvData read_csv(std::istream& in, const std::string& name, std::size_t n_labels);

// The number that all of `text` spells, as std::from_chars reads it (an
// optional sign, digits, point, exponent; inf and nan too, which callers
// refuse), into `value`; false when it is not one number or out of range.
// The same on every platform and in every locale.
bool parse_number(std::string_view text, double& value);

}  // namespace fastmlp
