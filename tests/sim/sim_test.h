// A small test harness for the simulator's standalone C++ tests (no framework, no torch).
//
//   TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); CHECK_NEAR(x, y, tol); CHECK_CONTAINS(text, part); }
//
// CHECK* record a failure and go on; REQUIRE* end the test; SKIP("why") skips it. After every
// test the harness resets the simulator (options, sticky errors) and fails the test if it leaked
// cudaMalloc'd buffers.
//
// Bugs that are supposed to crash or to make a sanitizer report run in a child process:
//   CHILD_PROCESS(name) { ... uses `argument` ... }   and, in a test,   run_in_child("name", 1)
// The child is a fresh exec of the test binary (`--child name argument`), not a bare fork: a
// forked sanitizer runtime carries the parent's history and reports races that are not there.
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>

namespace simtest {

using TestFunction = void (*)();

struct Registrar {
  Registrar(const char* name, TestFunction function);
};

void fail(const char* file, int line, const std::string& what);
struct RequireFailed {};
struct Skipped {
  std::string reason;
};

// How CHECK_EQ prints a value (no <sstream>: it would double the compile time of every test).
template <typename T>
std::string show(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.9g", double(value));
    return text;
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(value));
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else if constexpr (std::is_convertible_v<T, std::string>) {
    return std::string(value);
  } else {
    return "<value>";
  }
}

// Which sanitizer the test binary was built with: "asan", "tsan" or "plain".
const char* flavour();

struct ChildResult {
  bool exited = false;   // exited normally (exit_code valid) rather than by a signal
  int exit_code = -1;
  int signal = 0;
  std::string output;    // stdout and stderr together
};
using ChildBody = void (*)(int argument);
struct ChildRegistrar {
  ChildRegistrar(const char* name, ChildBody body);
};
// Runs the CHILD_PROCESS body `name` in a new process with stdout and stderr captured. The child
// exit(0)s after the body, so that sanitizers finish and set their exit code.
ChildResult run_in_child(const char* name, int argument = 0);

}  // namespace simtest

#define TEST(name)                                                  \
  static void test_##name();                                        \
  static const simtest::Registrar registrar_##name(#name, &test_##name); \
  static void test_##name()

#define CHILD_PROCESS(name)                                                          \
  static void child_##name(int argument);                                            \
  static const simtest::ChildRegistrar child_registrar_##name(#name, &child_##name); \
  static void child_##name([[maybe_unused]] int argument)

#define CHECK(condition) \
  ((condition) ? (void)0 : simtest::fail(__FILE__, __LINE__, "CHECK(" #condition ") failed"))

#define REQUIRE(condition)                                                   \
  do {                                                                       \
    if (!(condition)) {                                                      \
      simtest::fail(__FILE__, __LINE__, "REQUIRE(" #condition ") failed");   \
      throw simtest::RequireFailed{};                                        \
    }                                                                        \
  } while (0)

#define CHECK_EQ(actual, expected)                                                                    \
  do {                                                                                                \
    /* copies: `actual` may be an element of a temporary, e.g. buffer.download()[0] */               \
    const auto check_actual_ = (actual);                                                              \
    const auto check_expected_ = (expected);                                                          \
    if (!(check_actual_ == check_expected_))                                                          \
      simtest::fail(__FILE__, __LINE__,                                                               \
                    "CHECK_EQ(" #actual ", " #expected "): " + simtest::show(check_actual_) + " != " + \
                        simtest::show(check_expected_));                                              \
  } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                                            \
  do {                                                                                                     \
    const double check_actual_ = double(actual);                                                           \
    const double check_expected_ = double(expected);                                                       \
    if (!(std::fabs(check_actual_ - check_expected_) <= double(tolerance)))                                \
      simtest::fail(__FILE__, __LINE__,                                                                    \
                    "CHECK_NEAR(" #actual ", " #expected "): " + simtest::show(check_actual_) + " vs " +   \
                        simtest::show(check_expected_));                                                   \
  } while (0)

#define CHECK_CONTAINS(text, part)                                                                          \
  do {                                                                                                      \
    const std::string check_text_ = (text);                                                                 \
    const std::string check_part_ = (part);                                                                 \
    if (check_text_.find(check_part_) == std::string::npos)                                                 \
      simtest::fail(__FILE__, __LINE__, "CHECK_CONTAINS: \"" + check_part_ + "\" not in \"" + check_text_ + "\""); \
  } while (0)

#define SKIP(reason) throw simtest::Skipped{reason}
