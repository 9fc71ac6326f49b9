// The C++ tests' checks: CHECK(cond) records a failure with its line and the
// test goes on; finish() prints the verdict and is main's exit status, so a
// failed check fails CTest. Shared by the test binaries; not a framework.
#pragma once

#include <cstdio>
#include <exception>
#include <string>

namespace check {

inline int failures = 0;

// True when `f` throws E whose message contains `text`; else prints what happened.
template <class E, class F>
bool throws(F&& f, const std::string& text) {
  try {
    f();
    std::fprintf(stderr, "  nothing thrown (expected: %s)\n", text.c_str());
  } catch (const E& e) {
    if (std::string(e.what()).find(text) != std::string::npos) return true;
    std::fprintf(stderr, "  unexpected message: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "  unexpected exception: %s\n", e.what());
  }
  return false;
}

// main's exit status: 1 if any check failed.
inline int finish(const char* test) {
  if (failures) {
    std::fprintf(stderr, "%s: %d check(s) failed\n", test, failures);
    return 1;
  }
  std::printf("%s: all checks passed\n", test);
  return 0;
}

}  // namespace check

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++check::failures;                                                           \
    }                                                                              \
  } while (0)
