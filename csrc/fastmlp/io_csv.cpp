// The CSV reader: the input in blocks (64 KiB by default) and one line buffer, reused
// from row to row, its fields walked in place (counted before any is stored); and the
// number parser it uses.
#include <fastmlp/io_csv.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <fastmlp/errors.hpp>

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

// What a field's text is to the number grammar: a number, no number, or a
// number beyond a double's range (1e400, 1e-400), which std::from_chars tells apart.
enum class Number { Yes, No, OutOfRange };

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
Number from_chars_whole(std::string_view s, double& value) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  auto signed_ = [negative](double x) { return negative ? -x : x; };  // flips NaN's sign too
  if ((s.size() == 3 && starts_with_nocase(s, "inf")) ||
      (s.size() == 8 && starts_with_nocase(s, "infinity"))) {
    value = signed_(std::numeric_limits<double>::infinity());
    return Number::Yes;
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
    return ok ? Number::Yes : Number::No;
  }
  std::size_t i = 0, digits = 0;
  auto is_digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  while (is_digit(i)) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (is_digit(i)) ++i, ++digits;
  }
  if (digits == 0) return Number::No;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!is_digit(i)) return Number::No;
    while (is_digit(i)) ++i;
  }
  if (i != s.size()) return Number::No;

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
  if (errno == ERANGE && (std::isinf(magnitude) || magnitude == 0.0)) return Number::OutOfRange;
  value = signed_(magnitude);
  return Number::Yes;
}

// snprintf's "%.*g" in the "C" locale, whatever locale the process runs in.
int format_g_c(char* out, std::size_t size, int precision, double value) {
#if defined(_WIN32)
  static const _locale_t c_locale = _create_locale(LC_NUMERIC, "C");
  return _snprintf_l(out, size, "%.*g", c_locale, precision, value);
#else
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t(0));
  const locale_t previous = uselocale(c_locale);
  const int n = std::snprintf(out, size, "%.*g", precision, value);
  uselocale(previous);
  return n;
#endif
}

#endif

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One field of a line: its text as written, a quoted field's without its quotes.
struct Field {
  std::string_view text;
  bool escaped = false;  // text still holds "" for each quote: no number, and a name to unescape
};

// The field that starts at line[pos] into `field`; pos moves past its comma,
// or to npos after the line's last field. Returns what is wrong with the
// field's quotes, or nullptr.
const char* next_field(std::string_view line, std::size_t& pos, Field& field) {
  const std::string_view rest = line.substr(pos);
  if (rest.empty() || rest.front() != '"') {
    const std::size_t comma = rest.find(',');
    field = {rest.substr(0, comma), false};
    pos = comma == std::string_view::npos ? comma : pos + comma + 1;
    return nullptr;
  }
  bool escaped = false;
  for (std::size_t i = 1;;) {
    const std::size_t quote = rest.find('"', i);
    if (quote == std::string_view::npos) return "the quoted field does not end on its line";
    if (quote + 1 < rest.size() && rest[quote + 1] == '"') {  // "" inside quotes
      escaped = true;
      i = quote + 2;
      continue;
    }
    field = {rest.substr(1, quote - 1), escaped};
    if (quote + 1 == rest.size()) {
      pos = std::string_view::npos;
    } else if (rest[quote + 1] == ',') {
      pos += quote + 2;
    } else {
      return "text after the closing quote";
    }
    return nullptr;
  }
}

// A quoted field's text with each "" made one ".
std::string unescaped(const Field& field) {
  std::string text;
  text.reserve(field.text.size());
  for (std::size_t i = 0; i < field.text.size(); ++i) {
    text += field.text[i];
    if (field.escaped && field.text[i] == '"') ++i;  // the second of the pair
  }
  return text;
}

bool is_utf8(std::string_view s) {
  for (std::size_t n; !s.empty(); s.remove_prefix(n))
    if ((n = utf8_sequence(s)) == 0) return false;
  return true;
}

// --- numbers ----------------------------------------------------------------------

// parse_number, telling a number out of range from no number.
Number read_number(std::string_view text, double& value) {
  text = trim(text);  // a field's spaces: " 1.5" is 1.5, as pandas reads it
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return Number::No;  // from_chars would read the -1 of +-1
  }
  if (text.empty()) return Number::No;
#if defined(FASTMLP_FROM_CHARS_DOUBLE)
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end != text.data() + text.size()) return Number::No;
  return ec == std::errc() ? Number::Yes : ec == std::errc::result_out_of_range ? Number::OutOfRange : Number::No;
#else
  return from_chars_whole(text, value);
#endif
}

}  // namespace

bool parse_number(std::string_view text, double& value) {
  return text == trim(text) && read_number(text, value) == Number::Yes;
}

bool parse_number_as_python(const std::string& text, double& value) {
  if (parse_number(text, value)) return true;
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno != ERANGE) return false;
  value = x;
  return true;
}

bool parse_field_number(std::string_view text, double& value) { return read_number(text, value) == Number::Yes; }

template <class T>
std::size_t format_number(T value, char* out) {
#if defined(FASTMLP_FROM_CHARS_DOUBLE)
  const auto [end, ec] = std::to_chars(out, out + kMaxNumberChars, value);
  return ec == std::errc() ? static_cast<std::size_t>(end - out) : 0;
#else
  // The fewest significant digits that read back; 17 (9 for float) always do.
  const int most = sizeof(T) == 8 ? 17 : 9;
  for (int precision = 1;; ++precision) {
    const int n = format_g_c(out, kMaxNumberChars, precision, static_cast<double>(value));
    double back;
    if (n <= 0) return 0;
    if (precision >= most ||
        (parse_number({out, static_cast<std::size_t>(n)}, back) && static_cast<T>(back) == value))
      return static_cast<std::size_t>(n);
  }
#endif
}

template std::size_t format_number<float>(float, char*);
template std::size_t format_number<double>(double, char*);

// --- streaming ---------------------------------------------------------------------

CsvReader::CsvReader(std::istream& in, std::string name, std::size_t block_bytes, HeaderRow header_row)
    : in_(in), name_(std::move(name)), buf_(std::max<std::size_t>(block_bytes, 1)), header_row_(header_row) {
  while (next_line()) {
    if (line_no_ == 1) {  // a byte order mark can only start the file
      if (line_.compare(0, 2, "\xFF\xFE") == 0 || line_.compare(0, 2, "\xFE\xFF") == 0)
        throw std::invalid_argument(name_ + ": UTF-16 text (its byte order mark); expected UTF-8");
      if (line_.compare(0, 3, "\xEF\xBB\xBF") == 0) line_.erase(0, 3);
    }
    if (trim(line_).empty()) continue;
    read_first_row();
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
    if (after_cr_) {  // the \n of a \r\n
      after_cr_ = false;
      if (buf_[pos_] == '\n') {
        ++pos_;
        continue;
      }
    }
    any = true;
    const char* start = buf_.data() + pos_;
    const std::size_t available = end_ - pos_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', available));
    const std::size_t before_newline = newline ? static_cast<std::size_t>(newline - start) : available;
    const auto* cr = static_cast<const char*>(std::memchr(start, '\r', before_newline));
    const char* stop = cr ? cr : newline;
    const std::size_t n = stop ? static_cast<std::size_t>(stop - start) : available;
    if (line_.size() + n > kMaxLineBytes)
      throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_ + 1) +
                                  ": longer than " + std::to_string(kMaxLineBytes) + " bytes");
    line_.append(start, n);
    pos_ += n;
    if (stop) {
      ++pos_;
      ++line_no_;
      after_cr_ = stop == cr;
      return true;
    }
  }
}

std::size_t CsvReader::count_fields() const {
  std::size_t n = 0;
  if (line_.find('"') == std::string::npos)
    n = 1 + static_cast<std::size_t>(std::count(line_.begin(), line_.end(), ','));
  else
    for_each_field([&n](std::size_t, const Field&) { ++n; });
  if (n > kMaxColumns)
    throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_) + ": " +
                                std::to_string(n) + " fields, more than the " +
                                std::to_string(kMaxColumns) + " columns a file may have");
  return n;
}

template <class F>
void CsvReader::for_each_field(F&& f) const {
  Field field;
  for (std::size_t pos = 0, column = 0; pos != std::string::npos; ++column) {
    if (const char* problem = next_field(line_, pos, field))
      throw std::invalid_argument(where(column) + ": " + problem);
    f(column, field);
  }
}

std::string CsvReader::where(std::size_t column) const {
  std::string text = name_ + ", line " + std::to_string(line_no_) + ", column " + std::to_string(column + 1);
  if (column < header_.size()) text += " (" + in_quotes(header_[column]) + ")";
  return text;
}

void CsvReader::not_a_number(std::size_t column, std::string_view text, const char* hint) const {
  throw std::invalid_argument(where(column) + ": " +
                              (trim(text).empty() ? "empty field" : in_quotes(text) + " is not a number") + hint);
}

void CsvReader::read_first_row() {
  columns_ = count_fields();
  if (header_row_ == HeaderRow::Yes) {
    take_header();
    return;
  }
  std::size_t numbers = 0;
  for_each_field([&](std::size_t, const Field& f) {
    double value;
    if (!f.escaped && read_number(f.text, value) != Number::No) ++numbers;  // 1e400 and nan are numbers, refused
  });
  if (numbers == columns_) {
    first_row_.resize(columns_);
    parse_row(first_row_.data(), nullptr);
    first_pending_ = true;
    return;
  }
  if (numbers == 0 && header_row_ == HeaderRow::Detect) {
    take_header();
    return;
  }
  // Numbers and text: a data row with a bad field (unless keep_text names its
  // text columns), or a header with numbers for names.
  first_mixed_ = true;
}

void CsvReader::take_header() {
  header_.reserve(columns_);
  for_each_field([&](std::size_t c, const Field& f) {
    header_.push_back(unescaped(f));
    if (!is_utf8(header_.back()))
      throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_) + ", column " +
                                  std::to_string(c + 1) + ": header name " + in_quotes(header_.back()) +
                                  " is not UTF-8 text");
  });
}

void CsvReader::mixed_first_row() const {
  const char* hint =
      header_row_ == HeaderRow::Detect ? " (a first row is a header only when none of its fields is a number)" : "";
  for_each_field([&](std::size_t c, const Field& f) {
    double value;
    if ((c >= kind_.size() || kind_[c] == Kind::Number) && (f.escaped || read_number(f.text, value) == Number::No))
      not_a_number(c, f.text, hint);
  });
}

void CsvReader::keep_text(const std::vector<std::size_t>& text, const std::vector<std::size_t>& ignored) {
  kind_.assign(columns_, Kind::Number);
  for (const std::size_t c : text)
    if (c < columns_) kind_[c] = Kind::Text;
  for (const std::size_t c : ignored)
    if (c < columns_) kind_[c] = Kind::Ignored;
  if (first_mixed_) {
    mixed_first_row();  // throws unless every field outside the text columns is a number
    first_mixed_ = false;
    first_pending_ = true;
  }
  if (first_pending_) {  // line_ still holds the first row
    first_row_.resize(columns_);
    first_text_.clear();
    parse_row(first_row_.data(), &first_text_);
  }
}

void CsvReader::parse_row(double* out, std::vector<std::string>* text) const {
  for_each_field([&](std::size_t c, const Field& f) {
    if (c < kind_.size() && kind_[c] == Kind::Ignored) {
      out[c] = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    if (c < kind_.size() && kind_[c] == Kind::Text) {
      if (f.text.empty()) throw std::invalid_argument(where(c) + ": empty field");
      out[c] = std::numeric_limits<double>::quiet_NaN();
      text->push_back(unescaped(f));
      if (!is_utf8(text->back()))
        throw std::invalid_argument(where(c) + ": " + in_quotes(text->back()) + " is not UTF-8 text");
      return;
    }
    const Number number = f.escaped ? Number::No : read_number(f.text, out[c]);
    if (number == Number::No) not_a_number(c, f.text);
    if (number == Number::OutOfRange)
      throw std::invalid_argument(where(c) + ": " + in_quotes(f.text) + " is not a number in a double's range");
    if (!std::isfinite(out[c]))
      throw std::invalid_argument(where(c) + ": " + in_quotes(f.text) + " is not a finite number");
  });
}

std::size_t CsvReader::read(double* out, std::size_t max_rows, std::vector<std::string>* text) {
  if (first_mixed_) mixed_first_row();
  if (std::count(kind_.begin(), kind_.end(), Kind::Text) > 0 && text == nullptr)
    throw std::logic_error("CsvReader::read: text columns need somewhere to go");
  std::size_t rows = 0;
  if (first_pending_ && max_rows > 0) {
    std::copy(first_row_.begin(), first_row_.end(), out);
    if (text) text->insert(text->end(), first_text_.begin(), first_text_.end());
    first_pending_ = false;
    ++rows;
  }
  while (rows < max_rows && next_line()) {
    if (trim(line_).empty()) continue;
    const std::size_t fields = count_fields();
    if (fields != columns_)
      throw std::invalid_argument(name_ + ", line " + std::to_string(line_no_) + ": expected " +
                                  std::to_string(columns_) + " fields, found " +
                                  std::to_string(fields));
    parse_row(out + rows * columns_, text);
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
    // Up to 1024 rows and 1 MiB a block: room for rows not yet read must not
    // multiply a wide file's size.
    const std::size_t block = std::clamp<std::size_t>((std::size_t(1) << 17) / columns, 1, 1024);
    for (;;) {
      values.resize(checked_mul(checked_add(rows, block, "CSV data"), columns, "CSV data"));
      const std::size_t got = reader.read(values.data() + rows * columns, block);
      rows += got;
      if (got < block) break;
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

void open_csv(std::ifstream& in, const std::string& path) {
  if (path == "-") {
    // The stream's own file buffer stays closed and unused; std::cin's is borrowed.
    static_cast<std::istream&>(in).rdbuf(std::cin.rdbuf());
    return;
  }
  check_path(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(path, "cannot read", EISDIR);
  errno = 0;
  in.open(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open for reading", errno);
}

CsvData read_csv(const std::string& path, std::size_t n_labels) {
  std::ifstream in;
  open_csv(in, path);
  return read_csv(in, path, n_labels);
}

}  // namespace fastmlp
