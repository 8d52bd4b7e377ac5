// apps/tern/client_flags.hpp: what `tern pub` and `tern sub` share: the
// connection flags mosquitto_pub/mosquitto_sub users type (-h -p -L -i -I -u
// -P -V -k -c -x -d --quiet, the will, the TLS flags), -D MQTT 5 properties,
// the exit statuses, and `tern sub`'s output (-v, -N, -F format).
//
//   client_flags f;
//   add_client_flags(*cmd, f, tool::pub);             // registers the flags
//   ... parse ...
//   client_setup s;
//   if (auto bad = resolve(f, tool::pub, s)) return report(f, tool::pub, *bad);
//   tern::Client c(s.client);
//   if (auto ec = c.connect(s.uri, s.connect)) return report(f, tool::pub, connect_failure(s.uri, ec));
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/system/error_code.hpp>

#include "tern/client/options.hpp"
#include "tern/codec/packet.hpp"

namespace CLI {
class App;
}

namespace tern::cli {

// Exit statuses of `tern pub` and `tern sub` (mosquitto_pub/sub's where they have one).
namespace exit_status {
constexpr int ok = 0;
constexpr int failure = 1;     // unreachable broker, TLS refused, lost connection, refused publish or subscription
constexpr int usage = 2;       // bad flags (mosquitto uses 1)
constexpr int timed_out = 27;  // tern sub -W ran out (mosquitto_sub's MOSQ_ERR_TIMEOUT)
// A CONNECT the broker refuses exits with the CONNACK's code, like
// mosquitto_pub/sub: 3.x return codes 1-5, 5.0 reason codes 128-162.
}  // namespace exit_status

enum class tool : std::uint8_t { pub, sub };
std::string_view tool_name(tool t) noexcept;  // "tern pub", "tern sub"

struct client_flags {
  std::string host = "localhost";
  std::optional<std::uint16_t> port;  // -p; absent: 1883, or 8883 with TLS
  std::string url;  // -L mqtt[s]://[user[:password]@]host[:port]/topic or ws[s]://...[:port]/path
  std::vector<std::string> ws_headers;  // --ws-header "Name: value"
  std::string id;
  std::string id_prefix;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::string version = "311";
  std::uint16_t keepalive = 60;
  bool persistent = false;     // -c
  std::string session_expiry;  // -x
  std::vector<std::string> properties;  // -D, every occurrence's words in a row
  std::optional<std::string> will_topic;
  std::optional<std::string> will_payload;
  int will_qos = 0;
  bool will_retain = false;
  // TLS (mqtts://): any of these asks for it, as in mosquitto_pub.
  std::string cafile;
  std::string capath;
  std::string cert;
  std::string key;
  bool insecure = false;          // no host name check (the chain is still verified)
  bool tls_use_os_certs = false;  // the system's CAs (also the default without --cafile/--capath)
  std::vector<std::string> unsupported_tls;  // --tls-version, --ciphers given (refused: exit 1)
  bool debug = false;
  bool quiet = false;
};

// Registers the shared flags on `cmd` (and its --help; -h is the host).
void add_client_flags(CLI::App& cmd, client_flags& f, tool t);

// What the flags stand for.
struct client_setup {
  std::string uri;
  std::optional<std::string> url_topic;  // -L's path
  connect_options connect;
  client_options client;
  properties publish_props;
  properties subscribe_props;
  properties unsubscribe_props;
  properties disconnect_props;
};

// A refusal to go on: the exit status and the message for stderr.
struct failure {
  int status = exit_status::usage;
  std::string message;
};

// Checks the flags and builds the setup (TLS: client.tls and an mqtts://
// uri); a usage error (status 2), or status 1 for a TLS file that cannot be
// read or a TLS flag not supported yet.
[[nodiscard]] std::optional<failure> resolve(const client_flags& f, tool t, client_setup& out);

// The -D words as properties per packet. `allowed`: the commands this tool
// sends ("connect", "publish", "subscribe", "unsubscribe", "disconnect", "will").
struct property_sets {
  properties connect, publish, subscribe, unsubscribe, disconnect, will;
};
[[nodiscard]] std::optional<failure> parse_properties(const std::vector<std::string>& words, tool t,
                                                      property_sets& out);

// The failure for a connect() error: a refused CONNECT exits with its
// CONNACK code, anything else with 1.
failure connect_failure(std::string_view uri, boost::system::error_code ec);

// Prints "tern pub: <message>" on stderr (unless --quiet, for runtime
// failures; usage errors always print) and returns the status.
int report(const client_flags& f, tool t, const failure& why);

// ---- tern sub's output ----

// A compiled -F format (mosquitto_sub's: %t %p %q %r %m %l %x %X %P %C %D %E
// %F %R %S %A %I %U %j %%, flags - and 0, width, .precision; @X strftime,
// @N, @@; escapes \\ \0 \a \e \n \r \t \v).
class output_format {
 public:
  // The format, or the message saying what is wrong in it.
  static std::variant<output_format, std::string> compile(std::string_view format);
  // Appends `m` formatted, received at `now_ns` (nanoseconds since the epoch).
  void render(const publish_packet& m, std::int64_t now_ns, std::string& out) const;

 private:
  struct spec {
    char conv = 0;   // '%' conversions; '@' for a strftime character in `arg`
    char arg = 0;
    bool left = false;
    bool zero = false;
    int width = 0;
    int precision = -1;
  };
  std::vector<std::variant<std::string, spec>> parts_;
};

// How tern sub prints one message: -F format if given; else -v ("topic
// payload", a null payload as "(null)") or the payload alone (nothing for a
// null payload); then a newline unless -N.
struct output_options {
  std::optional<output_format> format;
  bool verbose = false;
  bool newline = true;
};
void print_message(const output_options& o, const publish_packet& m, std::int64_t now_ns, std::string& out);

}  // namespace tern::cli
