// find_poison: pending inputs run in a forked child, which reports each
// finished handler on a pipe (actors/poison.hpp).
#include "actors/poison.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "actors/apply.hpp"

namespace skein {

std::string poison_fingerprint(const persistence::journal_record& rec) {
  std::string out = rec.kind_of_input;
  out += '\0';
  out += rec.payload;
  return out;
}

namespace {

constexpr char handled = 'k';
constexpr char threw = 'x';

[[noreturn]] void child(behaviour_instance& logic,
                        const std::vector<std::pair<std::uint64_t, persistence::journal_record>>& pending,
                        const std::string& session_id, int out) {
  // Only this thread exists here: nothing may wait for a lock another thread
  // of the parent held at fork time. Logging is off (its mutex may be taken);
  // a crash must end the child with the signal, not a handler of the parent.
  if (auto* l = spdlog::default_logger_raw()) l->set_level(spdlog::level::off);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
  for (const auto& [jseq, rec] : pending) {
    auto input = rec;
    char r = handled;
    try {
      apply_input(logic, input, session_id, false, 0);
    } catch (...) {
      r = threw;
    }
    if (::write(out, &r, 1) != 1) ::_exit(3);
  }
  ::_exit(0);
}

}  // namespace

poison_verdict find_poison(
    behaviour_instance& logic,
    const std::vector<std::pair<std::uint64_t, persistence::journal_record>>& pending,
    const std::string& session_id, std::chrono::milliseconds timeout) {
  poison_verdict v;
  if (pending.empty()) return v;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    v.why = std::string("pipe: ") + std::strerror(errno);
    return v;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    v.why = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return v;
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(logic, pending, session_id, fds[1]);
  }
  ::close(fds[1]);
  std::size_t done = 0;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (done < pending.size()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // timeout: the loop's deadline check ends it
    char r;
    auto got = ::read(fds[0], &r, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the child is gone
    if (r == threw) {
      v.index = done;
      v.why = "its handler threw";
      break;
    }
    ++done;
  }
  ::close(fds[0]);
  if (timed_out || v.index) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (v.index) return v;
  if (timed_out) {
    v.index = done;
    v.why = "its handler ran longer than " + std::to_string(timeout.count()) + " ms";
  } else if (done < pending.size()) {
    v.index = done;
    if (WIFSIGNALED(status))
      v.why = "its handler killed the process with signal " + std::to_string(WTERMSIG(status))
              + " (" + ::strsignal(WTERMSIG(status)) + ")";
    else
      v.why = "its handler ended the process (exit " + std::to_string(WEXITSTATUS(status)) + ")";
  }
  return v;
}

}  // namespace skein
