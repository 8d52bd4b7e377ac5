#include "tern/auth/text_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

namespace tern::auth {

void problems::add(std::size_t line, std::string_view what) {
  if (!message_.empty()) message_ += '\n';
  message_ += fmt::format("{}:{}: {}", printable(file_), line, printable(what));
}

file_result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return file_error{fmt::format("{}: cannot be read: {}", printable(path.string()), std::strerror(errno))};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return file_error{fmt::format("{}: read error", printable(path.string()))};
  return file_result<std::string>(boost::system::in_place_value, std::move(text).str());
}

file_result<void> write_text(const std::filesystem::path& path, std::string_view text, unsigned mode) {
  const std::string name = printable(path.string());
  struct stat old {};
  if (::stat(path.c_str(), &old) == 0) mode = old.st_mode & 07777;
  std::string tmp = path.string() + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return file_error{fmt::format("{}: cannot write beside it: {}", name, std::strerror(errno))};
  bool ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int err = errno;
  ok = ::close(fd) == 0 && ok;
  if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) return {};
  ::unlink(tmp.c_str());
  return file_error{fmt::format("{}: cannot be written: {}", name, std::strerror(ok ? errno : err))};
}

void text_lines::iterator::cut() noexcept {
  if (rest_.empty()) {
    done_ = true;
    return;
  }
  const auto nl = rest_.find('\n');
  line_ = rest_.substr(0, nl);
  next_ = nl == std::string_view::npos ? rest_.size() : nl + 1;
  if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace tern::auth
