// tern_client_kill_helper (tests only): an AsyncClient with a store
// directory, for kill_test.cpp to SIGKILL at random moments and start again.
//
//   tern_client_kill_helper sub PORT CLIENT_ID STORE_DIR OUT_FILE CHECKPOINT(0|1) VERSION(4|5) [BUSY_US]
//     Subscribes to "kill/#" at QoS 2 with a persistent session and appends
//     each message it is handed to OUT_FILE, one write(2) per message, no
//     buffering: "<payload>\n", or with CHECKPOINT 1 "<delivery number>
//     <payload>\n", the number read back at start (the highest in the file)
//     as persistence.processed: the application's half of exactly once.
//     BUSY_US: the handler then works on for that many microseconds (an
//     application that acts first and then does more: the window a kill
//     can hit without the checkpoint, made wide).
//
//   tern_client_kill_helper pub PORT CLIENT_ID STORE_DIR LOG_FILE QOS COUNT
//     Run number G (1 + the "G" lines in LOG_FILE; "G <G>" is appended
//     first) publishes COUNT messages "<G>:<i>" (i = 1..COUNT) at QOS to
//     "kill/pub", 20 per 5 ms. After each 20, async_persist(), then
//     "S <G> <i>" (every message up to i is in the store); each completed
//     publish: "A <G>:<i>". When all of its own are acknowledged and nothing
//     from earlier runs is queued or in flight any more: "F", exit 0.
//
// Exit 2 on bad arguments or when the store cannot be opened.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tern/client/async_client.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using error_code = boost::system::error_code;

// Appends `line` with one write(2).
void append(int fd, const std::string& line) {
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const auto n = ::write(fd, p, left);
    if (n < 0) std::_Exit(3);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::uint64_t number(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

tern::client_options options(const char* dir) {
  tern::client_options o;
  o.reconnect = {.min_delay = 20ms, .max_delay = 200ms, .jitter = 0.5, .seed = 0};
  o.session.connect_timeout = 3000ms;
  o.persistence.dir = dir;
  return o;
}

tern::connect_options connect_opts(std::string id, tern::protocol_version v) {
  tern::connect_options c;
  c.version = v;
  c.client_id = std::move(id);
  c.clean_start = false;
  c.keep_alive = 10;
  if (v == tern::protocol_version::v5) c.session_expiry = 3600;
  return c;
}

int subscriber(int argc, char** argv) {
  const std::string uri = std::string("mqtt://127.0.0.1:") + argv[2];
  const bool checkpoint = std::string_view(argv[6]) == "1";
  const auto version = std::string_view(argv[7]) == "4" ? tern::protocol_version::v3_1_1 : tern::protocol_version::v5;
  const std::chrono::microseconds busy(argc > 8 ? std::atoi(argv[8]) : 0);
  const int fd = ::open(argv[5], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return 2;

  auto o = options(argv[4]);
  if (checkpoint) {
    const std::string path = argv[5];
    o.persistence.processed = [path] {
      std::ifstream in(path);
      std::string line;
      std::uint64_t last = 0;
      while (std::getline(in, line)) last = std::max(last, number(line.substr(0, line.find(' '))));
      return last;
    };
  }
  asio::io_context io;
  tern::AsyncClient c(io.get_executor(), o);
  c.on_delivery("kill/#", [&](const tern::publish_packet& m, const tern::delivery& d) {
    std::string line = checkpoint ? std::to_string(d.number) + " " : std::string();
    line.append(m.payload().view());
    line.push_back('\n');
    append(fd, line);
    if (busy.count() > 0) std::this_thread::sleep_for(busy);
  });
  bool subscribed = false;
  c.on_connect([&](const tern::connack_packet& a) {
    if (subscribed && a.session_present) return;
    subscribed = true;
    c.async_subscribe({{"kill/#", {.max_qos = tern::qos::exactly_once}}}, [](error_code, std::vector<tern::reason>) {
      std::fputs("subscribed\n", stdout);
      std::fflush(stdout);
    });
  });
  int rc = 0;
  c.async_connect(uri, connect_opts(argv[3], version), [&](error_code ec, const tern::connack_packet&) {
    if (ec) {
      std::fprintf(stderr, "connect: %s\n", ec.message().c_str());
      rc = 2;
      io.stop();
    }
  });
  io.run();
  return rc;
}

int publisher(char** argv) {
  const std::string uri = std::string("mqtt://127.0.0.1:") + argv[2];
  const std::string log_path = argv[5];
  const auto q = static_cast<tern::qos>(std::atoi(argv[6]));
  const int count = std::atoi(argv[7]);
  std::uint64_t run = 1;
  {
    std::ifstream in(log_path);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("G ", 0) == 0) ++run;
  }
  const int fd = ::open(argv[5], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return 2;
  append(fd, "G " + std::to_string(run) + "\n");

  asio::io_context io;
  tern::AsyncClient c(io.get_executor(), options(argv[4]));
  asio::steady_timer timer(io);
  int next = 1;
  int acked = 0;
  int rc = 0;
  std::function<void()> finish = [&] {
    if (acked < count) return;
    if (c.queued() != 0 || c.inflight() != 0) {  // earlier runs' messages still going
      timer.expires_after(5ms);
      timer.async_wait([&](error_code ec) {
        if (!ec) finish();
      });
      return;
    }
    append(fd, "F\n");
    c.async_disconnect(tern::reason::normal_disconnection, [&](error_code) { io.stop(); });
  };
  std::function<void()> batch = [&] {
    const int last = std::min(count, next + 19);
    for (; next <= last; ++next) {
      const auto payload = std::to_string(run) + ":" + std::to_string(next);
      c.async_publish(tern::publish_packet("kill/pub", tern::shared_bytes::copy(payload), q),
                      [&, payload](error_code ec, tern::reason) {
                        if (ec) return;
                        append(fd, "A " + payload + "\n");
                        ++acked;
                        finish();
                      });
    }
    c.async_persist([&, last](error_code ec) {
      if (ec) return;
      append(fd, "S " + std::to_string(run) + " " + std::to_string(last) + "\n");
      if (last >= count) return;
      timer.expires_after(5ms);
      timer.async_wait([&](error_code e) {
        if (!e) batch();
      });
    });
  };
  c.async_connect(uri, connect_opts(argv[3], tern::protocol_version::v5), [&](error_code ec, const tern::connack_packet&) {
    if (ec) {
      std::fprintf(stderr, "connect: %s\n", ec.message().c_str());
      rc = 2;
      io.stop();
      return;
    }
    batch();
  });
  io.run();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc == 8 || argc == 9) && std::string_view(argv[1]) == "sub") return subscriber(argc, argv);
  if (argc == 8 && std::string_view(argv[1]) == "pub") return publisher(argv);
  std::fputs("usage: tern_client_kill_helper sub PORT ID DIR OUT CHECKPOINT VERSION [BUSY_US]\n"
             "       tern_client_kill_helper pub PORT ID DIR LOG QOS COUNT\n",
             stderr);
  return 2;
}
