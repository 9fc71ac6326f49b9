// The CSV reader: one pass, one line buffer, values appended to one vector.
#include <fastmlp/io_csv.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

// std::from_chars for double is missing from libc++ before LLVM 20 and from
// Apple's before macOS 26, and from libstdc++ before GCC 11: there the number
// is checked against from_chars' grammar here, then converted by strtod in the
// "C" locale (both convert correctly rounded, so the bits agree). Defining
// FASTMLP_PARSE_WITHOUT_FROM_CHARS forces that path, for its test.
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L && \
    !defined(FASTMLP_PARSE_WITHOUT_FROM_CHARS)
#define FASTMLP_FROM_CHARS_DOUBLE 1
#else
#include <cerrno>
#include <clocale>
#include <cstdlib>
#if defined(__APPLE__) || defined(__FreeBSD__)
#include <xlocale.h>
#endif
#endif

namespace fastmlp {
namespace {

#if !defined(FASTMLP_FROM_CHARS_DOUBLE)

// Whether `s` starts with `word`, ignoring ASCII case.
bool starts_with_nocase(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if ((s[i] | 0x20) != word[i]) return false;
  return true;
}

// strtod in the "C" locale, whatever locale the process runs in.
double strtod_c(const char* text, char** end) {
#if defined(_WIN32)
  static const _locale_t c_locale = _create_locale(LC_NUMERIC, "C");
  return _strtod_l(text, end, c_locale);
#else
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t(0));
  return strtod_l(text, end, c_locale);
#endif
}

// std::from_chars(first, last, value) for a whole field: its grammar (an
// optional '-', then digits with an optional point and exponent, or inf,
// infinity, nan, nan(chars), in any case) and its range errors.
bool from_chars_whole(std::string_view s, double& value) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  auto signed_ = [negative](double x) { return negative ? -x : x; };  // flips NaN's sign too
  if ((s.size() == 3 && starts_with_nocase(s, "inf")) ||
      (s.size() == 8 && starts_with_nocase(s, "infinity"))) {
    value = signed_(std::numeric_limits<double>::infinity());
    return true;
  }
  if (starts_with_nocase(s, "nan")) {
    const std::string_view rest = s.substr(3);
    bool ok = rest.empty();
    if (rest.size() >= 2 && rest.front() == '(' && rest.back() == ')') {
      ok = true;
      for (char c : rest.substr(1, rest.size() - 2))
        ok = ok && (c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
    }
    if (ok) value = signed_(std::numeric_limits<double>::quiet_NaN());
    return ok;
  }
  std::size_t i = 0, digits = 0;
  auto is_digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  while (is_digit(i)) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (is_digit(i)) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!is_digit(i)) return false;
    while (is_digit(i)) ++i;
  }
  if (i != s.size()) return false;

  char small[64];
  std::string large;
  const char* text = small;
  if (s.size() < sizeof small) {
    std::memcpy(small, s.data(), s.size());
    small[s.size()] = '\0';
  } else {
    large.assign(s);
    text = large.c_str();
  }
  errno = 0;
  const double magnitude = strtod_c(text, nullptr);
  // Out of range, as from_chars reports it: overflow to infinity, or a
  // non-zero number that rounds to zero.
  if (errno == ERANGE && (std::isinf(magnitude) || magnitude == 0.0)) return false;
  value = signed_(magnitude);
  return true;
}

#endif


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

}  // namespace

bool parse_number(std::string_view text, double& value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
#if defined(FASTMLP_FROM_CHARS_DOUBLE)
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
#else
  return from_chars_whole(text, value);
#endif
}

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
