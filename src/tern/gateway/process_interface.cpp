#include "tern/gateway/process_interface.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

#include "tern/gateway/json_line.hpp"

extern char** environ;

namespace tern::gateway {
namespace {

// A line longer than this is dropped (and counted): a program that never
// writes a newline must not grow the gateway's memory.
constexpr std::size_t max_line = 1 << 20;

std::error_code last_error() { return {errno, std::system_category()}; }

// A pipe's two ends, closed on exec (the child gets its copies by dup2).
struct pipe_pair {
  int read = -1, write = -1;
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~pipe_pair() {
    close_fd(read);
    close_fd(write);
  }
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Splits what arrives on one of the program's outputs into lines.
class line_splitter {
 public:
  // Reads what is there; calls on_line(line) for each complete line. False at end of file or error.
  template <class F>
  bool read(int fd, F&& on_line, std::size_t& too_long) {
    char buffer[65536];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
      if (!partial_.empty() && !skipping_) on_line(std::string_view(partial_));
      partial_.clear();
      return false;
    }
    std::string_view data(buffer, static_cast<std::size_t>(n));
    while (!data.empty()) {
      const std::size_t nl = data.find('\n');
      const std::string_view piece = data.substr(0, nl);
      if (!skipping_) partial_.append(piece);
      if (partial_.size() > max_line) {
        partial_.clear();
        skipping_ = true;
        ++too_long;
      }
      if (nl == std::string_view::npos) break;
      if (!skipping_) on_line(std::string_view(partial_));
      partial_.clear();
      skipping_ = false;
      data.remove_prefix(nl + 1);
    }
    return true;
  }

 private:
  std::string partial_;
  bool skipping_ = false;
};

// Ends the child: its stdin is closed already; waits, then SIGTERM, then SIGKILL.
int reap(pid_t pid) {
  using namespace std::chrono_literals;
  int status = 0;
  const auto wait_for = [&](std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    do {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR)) return true;
      std::this_thread::sleep_for(10ms);
    } while (std::chrono::steady_clock::now() < end);
    return false;
  };
  if (wait_for(1000ms)) return status;
  ::kill(pid, SIGTERM);
  if (wait_for(1000ms)) return status;
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

process_interface::process_interface() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = fds[0];
    wake_write_ = fds[1];
  }
}

process_interface::~process_interface() {
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
}

void process_interface::wake() noexcept {
  const char byte = 1;
  if (wake_write_ >= 0) (void)!::write(wake_write_, &byte, 1);  // a full pipe is awake already
}

void process_interface::stop() {
  stop_requested_ = true;
  wake();
}

result<void> process_interface::run(interface_context& io) {
  if (wake_read_ < 0) return error{last_error(), "process interface: cannot make its wake-up pipe"};
  const auto command = io.settings.find("command");
  const auto* argv_strings =
      command == io.settings.end() ? nullptr : std::get_if<std::vector<std::string>>(&command->second);
  if (argv_strings == nullptr || argv_strings->empty())
    return error{std::make_error_code(std::errc::invalid_argument),
                 "process interface: [interface] command must be an array of strings: the program and its arguments"};
  const std::string& program = argv_strings->front();

  // A program that closed its stdin makes write() fail with EPIPE, not kill us.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  pipe_pair in, out, err;
  if (!in.open() || !out.open() || !err.open()) return error{last_error(), "process interface: cannot make pipes"};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);
  // Nothing else of the gateway's: descriptors opened without close-on-exec
  // (asio's sockets are) would keep its connections and listeners alive in
  // the program.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);  // the child starts with no signal blocked
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  for (const auto& a : *argv_strings) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, program.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    io.log.error("process interface: cannot start {}: {}", program, std::system_category().message(spawned));
    return error{std::error_code(spawned, std::system_category()), "process interface: cannot start the program"};
  }
  pipe_pair::close_fd(in.read);
  pipe_pair::close_fd(out.write);
  pipe_pair::close_fd(err.write);
  set_nonblocking(in.write);
  set_nonblocking(out.read);
  set_nonblocking(err.read);
  io.log.info("process interface: started {} (pid {})", program, pid);

  io.commands.set_on_push([this] { wake(); });
  std::string pending;  // command lines not yet written to the program's stdin
  line_splitter stdout_lines, stderr_lines;
  std::size_t too_long = 0;
  bool program_ended = false;
  const auto on_status = [&](std::string_view line) {
    if (line.empty()) return;
    auto m = from_json_line(line);
    if (!m) {
      ++bad_lines_;
      io.log.warn("process interface: {}: not a message ({}): {}", program, m.error().message(),
                  line.substr(0, 200));
      return;
    }
    io.statuses.push(std::move(*m));
  };
  const auto on_stderr = [&](std::string_view line) { io.log.info("{}: {}", program, line); };

  while (!stop_requested_ && !io.commands.closed()) {
    while (auto c = io.commands.try_pop()) pending += to_json_line(*c);
    if (!pending.empty() && in.write >= 0) {
      const ssize_t n = ::write(in.write, pending.data(), pending.size());
      if (n > 0) {
        pending.erase(0, static_cast<std::size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        // EPIPE: the program closed its stdin. Its pending SIGPIPE is consumed.
        const timespec zero{};
        sigtimedwait(&pipe_signal, nullptr, &zero);
        io.log.warn("process interface: {} no longer reads its stdin; commands are dropped", program);
        pipe_pair::close_fd(in.write);
        pending.clear();
      }
    }
    std::vector<pollfd> all = {{out.read, POLLIN, 0}, {err.read, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (!pending.empty() && in.write >= 0) all.push_back({in.write, POLLOUT, 0});
    if (::poll(all.data(), all.size(), -1) < 0 && errno != EINTR) break;
    if (all[2].revents != 0) {
      char drain[256];
      while (::read(wake_read_, drain, sizeof drain) > 0) {
      }
    }
    if (all[1].fd >= 0 && all[1].revents != 0 && !stderr_lines.read(err.read, on_stderr, too_long))
      pipe_pair::close_fd(err.read);
    if (all[0].revents != 0 && !stdout_lines.read(out.read, on_status, too_long)) {
      program_ended = true;  // its stdout closed: it ended (or will: nothing more can come)
      break;
    }
  }
  io.commands.set_on_push({});
  bad_lines_ += too_long;
  if (too_long > 0) io.log.warn("process interface: {}: {} line(s) longer than {} bytes dropped", program, too_long, max_line);

  pipe_pair::close_fd(in.write);  // the program sees the end of its stdin
  // What it wrote to stderr before it ended is logged (a bounded amount).
  for (int rounds = 0; rounds < 64 && err.read >= 0 && stderr_lines.read(err.read, on_stderr, too_long); ++rounds) {
    pollfd p{err.read, POLLIN, 0};
    if (::poll(&p, 1, program_ended ? 100 : 0) <= 0) break;
  }
  const int status = reap(pid);
  if (program_ended && !stop_requested_) {
    io.log.warn("process interface: {} {}", program, describe_status(status));
    return error{std::make_error_code(std::errc::no_child_process), "process interface: the program ended"};
  }
  io.log.info("process interface: stopped {} ({})", program, describe_status(status));
  return {};
}

}  // namespace tern::gateway
