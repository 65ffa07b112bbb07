// A child process for tests that run the real binaries: started with fork/exec, its stdout and
// stderr captured to a file, stopped with a signal and reaped.
#ifndef SIGNET_TESTS_TESTING_SUBPROCESS_H_
#define SIGNET_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace signet::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`; output goes to `log_path`. Aborts the test on failure.
  Subprocess(const std::vector<std::string>& argv, const std::string& log_path);
  ~Subprocess();  // SIGKILLs and reaps a child still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code, 128+signal if killed, or -1 on timeout.
  int Wait(absl::Duration timeout = absl::Seconds(30));
  bool running() const { return pid_ > 0; }
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Polls `ready` every 20 ms until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& ready, absl::Duration timeout = absl::Seconds(30));

}  // namespace signet::testing

#endif  // SIGNET_TESTS_TESTING_SUBPROCESS_H_
