// The harness's runner: `sim_tests [substring]` runs every registered test (or those whose name
// contains the substring), prints one line per test and a summary, and exits non-zero on failure.
#include "sim_test.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "sim/sim_api.h"

namespace simtest {

namespace {

struct Test {
  const char* name;
  TestFunction function;
};

std::vector<Test>& tests() {
  static std::vector<Test> all;
  return all;
}

std::vector<std::string>* current_failures = nullptr;

}  // namespace

Registrar::Registrar(const char* name, TestFunction function) { tests().push_back({name, function}); }

void fail(const char* file, int line, const std::string& what) {
  const std::string message = std::string(file) + ":" + std::to_string(line) + ": " + what;
  if (current_failures != nullptr)
    current_failures->push_back(message);
  else
    std::fprintf(stderr, "%s\n", message.c_str());
}

const char* flavour() {
#if defined(__SANITIZE_ADDRESS__)
  return "asan";
#elif defined(__SANITIZE_THREAD__)
  return "tsan";
#else
  return "plain";
#endif
}

namespace {
std::vector<std::pair<const char*, ChildBody>>& child_bodies() {
  static std::vector<std::pair<const char*, ChildBody>> all;
  return all;
}

// `sim_tests --child NAME ARGUMENT`: the child side of run_in_child().
int run_child_body(const char* name, int argument) {
  for (const auto& [child_name, body] : child_bodies()) {
    if (std::strcmp(child_name, name) != 0) continue;
    body(argument);
    std::fflush(stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "no CHILD_PROCESS named %s\n", name);
  return 2;
}
}  // namespace

ChildRegistrar::ChildRegistrar(const char* name, ChildBody body) { child_bodies().push_back({name, body}); }

ChildResult run_in_child(const char* name, int argument) {
  ChildResult result;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return result;
  std::fflush(stdout);
  std::fflush(stderr);
  const std::string argument_text = std::to_string(argument);
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[1]);
    char* const args[] = {const_cast<char*>("sim_tests"), const_cast<char*>("--child"), const_cast<char*>(name),
                          const_cast<char*>(argument_text.c_str()), nullptr};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  close(pipe_fds[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) result.output.append(buffer, size_t(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  result.exited = WIFEXITED(status);
  result.exit_code = result.exited ? WEXITSTATUS(status) : -1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

}  // namespace simtest

// TSan sleeps a second at exit by default (for threads still finishing); the tests' child
// processes have none, and each would pay it.
extern "C" const char* __tsan_default_options() { return "atexit_sleep_ms=0"; }

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) return simtest::run_child_body(argv[2], std::atoi(argv[3]));
  using Clock = std::chrono::steady_clock;
  const char* filter = argc > 1 ? argv[1] : "";
  int passed = 0, failed = 0, skipped = 0;
  const auto suite_start = Clock::now();
  for (const simtest::Test& test : simtest::tests()) {
    if (std::strstr(test.name, filter) == nullptr) continue;
    std::vector<std::string> failures;
    simtest::current_failures = &failures;
    std::string skip_reason;
    const size_t allocations_before = cnnops::sim::live_allocation_count();
    const auto start = Clock::now();
    try {
      test.function();
    } catch (const simtest::RequireFailed&) {
    } catch (const simtest::Skipped& skip) {
      skip_reason = skip.reason;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    // Every test starts from the defaults and a healthy device.
    cnnops::sim::set_options(cnnops::sim::Options{});
    cnnops::sim::set_device_properties(cnnops::sim::default_device_properties());
    cnnops::sim::reset_device();
    const size_t allocations_after = cnnops::sim::live_allocation_count();
    if (allocations_after != allocations_before)
      failures.push_back("leaked " + std::to_string(allocations_after - allocations_before) + " cudaMalloc'd buffers");
    simtest::current_failures = nullptr;
    if (!failures.empty()) {
      ++failed;
      std::printf("FAIL %-44s %8.1f ms\n", test.name, ms);
      for (const std::string& f : failures) std::printf("     %s\n", f.c_str());
    } else if (!skip_reason.empty()) {
      ++skipped;
      std::printf("skip %-44s (%s)\n", test.name, skip_reason.c_str());
    } else {
      ++passed;
      std::printf("ok   %-44s %8.1f ms\n", test.name, ms);
    }
    std::fflush(stdout);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - suite_start).count();
  std::printf("sim tests [%s]: %d passed, %d failed, %d skipped in %.2f s\n", simtest::flavour(), passed, failed,
              skipped, seconds);
  return failed == 0 ? 0 : 1;
}
