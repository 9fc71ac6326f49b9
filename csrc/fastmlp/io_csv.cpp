// The CSV reader: one pass, one line buffer, values appended to one vector.
#include <fastmlp/io_csv.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace fastmlp {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The comma-separated fields of `line`, trimmed, as views into it.
void split(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

// The number in `field`, or false if it is not exactly one number.
bool parse_number(std::string_view field, double& value) {
  if (!field.empty() && field.front() == '+') field.remove_prefix(1);
  if (field.empty()) return false;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  return ec == std::errc() && end == field.data() + field.size();
}

}  // namespace

CsvData read_csv(std::istream& in, const std::string& name, std::size_t n_labels) {
  CsvData data;
  std::vector<double> values;
  std::vector<std::string_view> fields;
  std::string line;
  std::size_t line_no = 0, columns = 0, rows = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    split(line, fields);
    auto where = [&](std::size_t col) {
      return name + ", line " + std::to_string(line_no) + ", column " + std::to_string(col + 1);
    };
    if (columns == 0) {  // the first row: a header unless every field is a number
      columns = fields.size();
      double ignored;
      bool numeric = true;
      for (auto f : fields) numeric = numeric && parse_number(f, ignored);
      if (!numeric) {
        for (auto f : fields) data.header.emplace_back(f);
        continue;
      }
    }
    if (fields.size() != columns)
      throw std::invalid_argument(name + ", line " + std::to_string(line_no) + ": expected " +
                                  std::to_string(columns) + " fields, found " +
                                  std::to_string(fields.size()));
    for (std::size_t c = 0; c < fields.size(); ++c) {
      double v;
      if (!parse_number(fields[c], v))
        throw std::invalid_argument(where(c) + ": '" + std::string(fields[c]) +
                                    "' is not a number");
      if (!std::isfinite(v))
        throw std::invalid_argument(where(c) + ": '" + std::string(fields[c]) +
                                    "' is not a finite number");
      values.push_back(v);
    }
    ++rows;
  }
  if (in.bad()) throw std::runtime_error(name + ": read error");
  if (rows == 0) throw std::invalid_argument(name + ": no data rows");
  if (columns <= n_labels)
    throw std::invalid_argument(name + ": " + std::to_string(columns) +
                                " columns leave no features beside " + std::to_string(n_labels) +
                                " label columns");

  const std::size_t n_features = columns - n_labels;
  data.X = Matrix<double>(rows, n_features);
  data.Y = Matrix<double>(rows, n_labels);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < columns; ++c) {
      const double v = values[i * columns + c];
      if (c < n_features)
        data.X(i, c) = v;
      else
        data.Y(i, c - n_features) = v;
    }
  return data;
}

CsvData read_csv(const std::string& path, std::size_t n_labels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open for reading");
  return read_csv(in, path, n_labels);
}

}  // namespace fastmlp
