// The CSV reader's portable number parser (strtod in the "C" locale behind
// from_chars' grammar, for standard libraries without a floating-point
// std::from_chars) checked against std::from_chars itself: the same verdict
// and the same bits on hand-picked edge cases and on random numbers, in a
// locale whose decimal separator is a comma when the system has one. The
// portable number formatter likewise against std::to_chars.
// A plain program: each failed check prints the input and the run exits 1.
#define FASTMLP_PARSE_WITHOUT_FROM_CHARS
#include "../../csrc/fastmlp/io_csv.cpp"  // the reader built with the portable parser

#include <charconv>
#include <clocale>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

int failures = 0;

// What std::from_chars makes of all of `text`, after the '+' the reader allows
// (a sign, so never followed by another).
bool reference(std::string_view text, double& value) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) return false;
  }
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

void check(const std::string& text) {
  double want = 0, got = 0;
  const bool want_ok = reference(text, want);
  const bool got_ok = fastmlp::parse_number(text, got);
  const bool same = want_ok == got_ok &&
                    (!want_ok || std::memcmp(&want, &got, sizeof want) == 0 ||
                     (std::isnan(want) && std::isnan(got) &&
                      std::signbit(want) == std::signbit(got)));
  if (!same) {
    std::fprintf(stderr, "'%s': from_chars %s %.17g, parse_number %s %.17g\n", text.c_str(),
                 want_ok ? "reads" : "refuses", want, got_ok ? "reads" : "refuses", got);
    ++failures;
  }
}

// format_number's portable path (snprintf in the "C" locale, the fewest
// digits that read back) against std::to_chars: text that parse_number reads
// back to exactly `value`, with as many significant digits as to_chars needs.
template <class T>
void check_format(T value) {
  char got[fastmlp::kMaxNumberChars], want[64];
  const std::size_t n = fastmlp::format_number(value, got);
  const auto [end, ec] = std::to_chars(want, want + sizeof want, value, std::chars_format::scientific);
  double back = 0;
  const bool exact = fastmlp::parse_number({got, n}, back) && static_cast<T>(back) == value;
  // significant digits: those of the mantissa, which %g and to_chars both trim
  auto digits = [](std::string_view t) {
    std::size_t count = 0, first = t.find_first_of("123456789");
    const std::size_t e = t.find_first_of("eE");
    for (std::size_t i = first; i < std::min(e, t.size()); ++i) count += t[i] >= '0' && t[i] <= '9';
    return count;
  };
  std::string_view g(got, n), w(want, static_cast<std::size_t>(end - want));
  if (g.find_first_of("eE") == std::string_view::npos)  // %g's fixed form: drop trailing zeros of an integer
    while (g.size() > 1 && g.back() == '0' && g.find('.') == std::string_view::npos) g.remove_suffix(1);
  if (!exact || ec != std::errc() || (value != 0 && digits(g) != digits(w))) {
    std::fprintf(stderr, "format_number(%.17g) wrote '%.*s'; to_chars '%.*s'\n", double(value),
                 static_cast<int>(n), got, static_cast<int>(end - want), want);
    ++failures;
  }
}

// SplitMix64: random bits, the same on every run.
std::uint64_t next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void check_all() {
  for (const char* text :
       {"0", "-0", "+0", "1", "-1", "+1.5", "0.1", ".5", "-.5", "5.", "1.e3", "1e3", "1E-3",
        "1e+3", "00012.50", "123456789012345678901234567890", "0.30000000000000004",
        "2.2250738585072014e-308", "4.9e-324", "1e-320", "1e-400", "1.7976931348623157e308",
        "1.8e308", "1e400", "-1e400", "inf", "-inf", "INF", "Infinity", "-infinity", "infin",
        "nan", "-nan", "NaN", "nan(123)", "nan(abc_9)", "nan(", "nan(-)", "nanx", "", "+", "-",
        ".", "-.", "e5", "1e", "1e+", "1e-x", "1.2.3", "--1", "+-1", "-+1", "++1", " 1", "1 ",
        "0x10", "1,5", "1d", "5%", "\xc2\xa0"
        "1"})
    check(text);
  check(std::string(200, '9') + ".5e-150");  // longer than the parser's stack buffer
  std::uint64_t state = 42;
  char buf[64];
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t bits = next(state);
    double x;
    std::memcpy(&x, &bits, sizeof x);
    if (!std::isfinite(x)) continue;
    std::snprintf(buf, sizeof buf, i % 2 ? "%.17g" : "%.6e", x);  // exact, and rounded
    check(buf);
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(next(state) % 12),
                  static_cast<double>(next(state) % 2000000) / 997.0 - 1000.0);
    check(buf);
    check_format(x);
    if (std::isfinite(static_cast<float>(x))) check_format(static_cast<float>(x));
    check_format(static_cast<double>(next(state) % 2000000) / 997.0 - 1000.0);
  }
}

}  // namespace

int main() {
  check_all();
  // The number format must not follow the process's locale.
  const char* comma_locale = nullptr;
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE"})
    if (std::setlocale(LC_ALL, name)) {
      comma_locale = name;
      break;
    }
  if (comma_locale) {
    check_all();
    std::printf("checked in the C locale and in %s\n", comma_locale);
    std::setlocale(LC_ALL, "C");
  } else {
    std::printf("no locale with a decimal comma here: checked in the C locale only\n");
  }
  if (failures) std::fprintf(stderr, "%d failures\n", failures);
  return failures ? 1 : 0;
}
