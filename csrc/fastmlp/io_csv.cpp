// The CSV reader: the input in 64 KiB blocks, one line buffer, one field list,
// each reused from row to row.
#include <fastmlp/io_csv.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>

#include <fastmlp/errors.hpp>

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

// --- streaming ---------------------------------------------------------------------

CsvReader::CsvReader(std::istream& in, std::string name)
    : in_(in), name_(std::move(name)), buf_(std::size_t(1) << 16) {
  while (next_line()) {
    if (trim(line_).empty()) continue;
    split(line_, fields_);
    columns_ = fields_.size();
    first_row_.resize(columns_);
    if (parse_row(first_row_.data(), false)) {
      first_pending_ = true;
    } else {  // not all numbers: the header
      for (auto f : fields_) header_.emplace_back(f);
    }
    return;
  }
}

bool CsvReader::next_line() {
  line_.clear();
  bool any = false;
  for (;;) {
    if (pos_ == end_) {
      in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
      if (in_.bad()) throw std::runtime_error(name_ + ": read error");
      pos_ = 0;
      end_ = static_cast<std::size_t>(in_.gcount());
      if (end_ == 0) {
        if (any) ++line_no_;
        return any;
      }
    }
    any = true;
    const char* start = buf_.data() + pos_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    const std::size_t n = newline ? static_cast<std::size_t>(newline - start) : end_ - pos_;
    if (line_.size() + n > kMaxLineBytes)
      throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_ + 1) +
                                  ": longer than " + std::to_string(kMaxLineBytes) + " bytes");
    line_.append(start, n);
    pos_ += n;
    if (newline) {
      ++pos_;
      ++line_no_;
      return true;
    }
  }
}

bool CsvReader::parse_row(double* out, bool throw_if_bad) {
  for (std::size_t c = 0; c < fields_.size(); ++c) {
    double v;
    const bool number = parse_number(fields_[c], v);
    if (!throw_if_bad && !number) return false;
    const char* problem = !number ? " is not a number" : !std::isfinite(v) ? " is not a finite number" : nullptr;
    if (problem)
      throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_) + ", column " +
                                  std::to_string(c + 1) + ": " + in_quotes(fields_[c]) + problem);
    out[c] = v;
  }
  return true;
}

std::size_t CsvReader::read(double* out, std::size_t max_rows) {
  std::size_t rows = 0;
  if (first_pending_ && max_rows > 0) {
    std::copy(first_row_.begin(), first_row_.end(), out);
    first_pending_ = false;
    ++rows;
  }
  while (rows < max_rows && next_line()) {
    if (trim(line_).empty()) continue;
    split(line_, fields_);
    if (fields_.size() != columns_)
      throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_) + ": expected " +
                                  std::to_string(columns_) + " fields, found " +
                                  std::to_string(fields_.size()));
    parse_row(out + rows * columns_, true);
    ++rows;
  }
  return rows;
}

// --- whole files --------------------------------------------------------------------

CsvData read_csv(std::istream& in, const std::string& name, std::size_t n_labels) {
  CsvReader reader(in, name);
  const std::size_t columns = reader.columns();
  std::vector<double> values;
  std::size_t rows = 0;
  if (columns > 0) {
    constexpr std::size_t kBlock = 1024;
    for (;;) {
      values.resize(checked_mul(rows + kBlock, columns, "CSV data"));
      const std::size_t got = reader.read(values.data() + rows * columns, kBlock);
      rows += got;
      if (got < kBlock) break;
    }
  }
  if (rows == 0) throw std::invalid_argument(name + ": no data rows");
  if (columns <= n_labels)
    throw std::invalid_argument(name + ": " + std::to_string(columns) +
                                " columns leave no features beside " + std::to_string(n_labels) +
                                " label columns");

  CsvData data;
  data.header = reader.header();
  const std::size_t n_features = columns - n_labels;
  data.X = Matrix<double>(rows, n_features);
  data.Y = Matrix<double>(rows, n_labels);
  for (std::size_t i = 0; i < rows; ++i) {
    const double* row = values.data() + i * columns;
    std::copy(row, row + n_features, data.X.data() + i * n_features);
    std::copy(row + n_features, row + columns, data.Y.data() + i * n_labels);
  }
  return data;
}

CsvData read_csv(const std::string& path, std::size_t n_labels) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open for reading", errno);
  return read_csv(in, path, n_labels);
}

}  // namespace fastmlp
