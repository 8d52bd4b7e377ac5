#include "tern/server/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "tern/topic/topic.hpp"

namespace tern::server {
namespace {

// The refusal of `text` (named ternd.toml), or "accepted".
std::string refusal(std::string_view text) {
  auto r = parse_config(text, "ternd.toml");
  return r ? std::string("accepted") : r.error().message;
}

// `text` parsed; fails the test on a refusal.
config parsed(std::string_view text) {
  auto r = parse_config(text, "ternd.toml");
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : config{};
}

// A directory of its own under the system's temporary directory, removed at the end.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tern_config_test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- defaults and accepted files ---------------------------------------------

TEST(Config, Defaults) {
  const config c;
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 1883);
  EXPECT_EQ(c.listeners[0].protocol, listener_protocol::mqtt);
  EXPECT_TRUE(c.listeners[0].cert_file.empty());
  EXPECT_EQ(c.io_threads, 0u);
  EXPECT_EQ(c.log_level, log::level::info);
  EXPECT_EQ(c.sys_interval, 10u);
  EXPECT_EQ(c.limits.max_connections, 0u);
  EXPECT_EQ(c.limits.maximum_packet_size, 1'048'576u);
  EXPECT_EQ(c.limits.receive_maximum, 1024);
  EXPECT_EQ(c.limits.topic_alias_maximum, 64);
  EXPECT_EQ(c.limits.max_queued_messages, 1000u);
  EXPECT_EQ(c.limits.max_queued_bytes, 16'777'216u);
  EXPECT_EQ(c.limits.max_inflight, 1000);
  EXPECT_EQ(c.limits.maximum_qos, 2);
  EXPECT_TRUE(c.limits.retain_available);
  EXPECT_EQ(c.limits.max_keep_alive, 0);
  EXPECT_EQ(c.limits.max_session_expiry_interval, 4'294'967'295u);
  EXPECT_TRUE(c.limits.allow_zero_length_client_id);
  EXPECT_TRUE(c.limits.denied_subscriptions.empty());
  EXPECT_EQ(c.limits.max_topic_levels, 200u);
  EXPECT_EQ(c.storage.backend, storage_backend::rocksdb);
  EXPECT_EQ(c.storage.data_dir, "./ternd-data");
  EXPECT_EQ(c.storage.durability, durability_mode::fsync);
  EXPECT_EQ(c.storage.on_corruption, corruption_policy::move_aside);
  EXPECT_TRUE(c.auth.allow_anonymous);
  EXPECT_TRUE(c.auth.password_file.empty());
  EXPECT_TRUE(c.auth.acl_file.empty());
}

TEST(Config, EmptyFileGivesTheDefaults) {
  EXPECT_EQ(parsed(""), config{});
  EXPECT_EQ(parsed("# nothing but a comment\n\n"), config{});
  EXPECT_EQ(parsed("[limits]\n[storage]\n[auth]\n"), config{});
}

TEST(Config, ExampleFileShowsExactlyTheDefaults) {
  auto r = load_config(TERN_SOURCE_DIR "/etc/ternd.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, config{});
}

constexpr std::string_view full_example = R"(io_threads = 4
log_level = "debug"
sys_interval = 0

[[listeners]]
address = "0.0.0.0"
port = 1884

[[listeners]]
address = "::"
protocol = "mqtts"
cert_file = "/etc/ternd/server.crt"
key_file = "/etc/ternd/server.key"
ca_file = "/etc/ternd/ca.crt"

[[listeners]]
address = "localhost"
port = 8080
protocol = "ws"

[[listeners]]
port = 8443
protocol = "wss"
cert_file = "c.pem"
key_file = "k.pem"

[limits]
max_connections = 50000
maximum_packet_size = 268435460
receive_maximum = 1
topic_alias_maximum = 0
max_queued_messages = 4294967295
max_queued_bytes = 9223372036854775807
queue_full = "hold_acks"
max_inflight = 65535
maximum_qos = 1
retain_available = false
max_keep_alive = 65535
max_session_expiry_interval = 0
allow_zero_length_client_id = false
denied_subscriptions = [
  "#",
  "$SYS/#",
  "$share/g/secret/+",
]
max_topic_levels = 16

[storage]
backend = "memory"
data_dir = "/var/lib/ternd"
durability = "batch"
on_corruption = "refuse"

[auth]
allow_anonymous = false
password_file = "/etc/ternd/passwd"
acl_file = "/etc/ternd/acl"
)";

TEST(Config, FullExample) {
  const config c = parsed(full_example);
  EXPECT_EQ(c.io_threads, 4u);
  EXPECT_EQ(c.log_level, log::level::debug);
  EXPECT_EQ(c.sys_interval, 0u);
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_EQ(c.listeners[0], (listener_config{"0.0.0.0", 1884, listener_protocol::mqtt, {}, {}, {}}));
  EXPECT_EQ(c.listeners[1], (listener_config{"::", 8883, listener_protocol::mqtts, "/etc/ternd/server.crt",
                                             "/etc/ternd/server.key", "/etc/ternd/ca.crt"}));
  EXPECT_EQ(c.listeners[2], (listener_config{"localhost", 8080, listener_protocol::ws, {}, {}, {}}));
  EXPECT_EQ(c.listeners[3], (listener_config{"127.0.0.1", 8443, listener_protocol::wss, "c.pem", "k.pem", {}}));
  EXPECT_EQ(c.limits.max_connections, 50'000u);
  EXPECT_EQ(c.limits.maximum_packet_size, 268'435'460u);
  EXPECT_EQ(c.limits.receive_maximum, 1);
  EXPECT_EQ(c.limits.topic_alias_maximum, 0);
  EXPECT_EQ(c.limits.max_queued_messages, 4'294'967'295u);
  EXPECT_EQ(c.limits.max_queued_bytes, 9'223'372'036'854'775'807u);
  EXPECT_EQ(c.limits.queue_full, queue_full_mode::hold_acks);
  EXPECT_EQ(c.limits.max_inflight, 65535);
  EXPECT_EQ(c.limits.maximum_qos, 1);
  EXPECT_FALSE(c.limits.retain_available);
  EXPECT_EQ(c.limits.max_keep_alive, 65535);
  EXPECT_EQ(c.limits.max_session_expiry_interval, 0u);
  EXPECT_FALSE(c.limits.allow_zero_length_client_id);
  EXPECT_EQ(c.limits.denied_subscriptions, (std::vector<std::string>{"#", "$SYS/#", "$share/g/secret/+"}));
  EXPECT_EQ(c.limits.max_topic_levels, 16u);
  EXPECT_EQ(c.storage.backend, storage_backend::memory);
  EXPECT_EQ(c.storage.data_dir, "/var/lib/ternd");
  EXPECT_EQ(c.storage.durability, durability_mode::batch);
  EXPECT_EQ(c.storage.on_corruption, corruption_policy::refuse);
  EXPECT_FALSE(c.auth.allow_anonymous);
  EXPECT_EQ(c.auth.password_file, "/etc/ternd/passwd");
  EXPECT_EQ(c.auth.acl_file, "/etc/ternd/acl");
}

TEST(Config, OtherTomlSpellingsOfTheSameThing) {
  // Dotted keys, inline tables and an inline array of listener tables.
  const config c = parsed(R"(limits.max_keep_alive = 60
storage = { backend = "memory" }
listeners = [{ port = 1 }, { port = 2, address = "10.0.0.1" }]
)");
  EXPECT_EQ(c.limits.max_keep_alive, 60);
  EXPECT_EQ(c.storage.backend, storage_backend::memory);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].port, 1);
  EXPECT_EQ(c.listeners[1].address, "10.0.0.1");
}

TEST(Config, NoListeners) { EXPECT_TRUE(parsed("listeners = []\n").listeners.empty()); }

TEST(Config, ListenerPortDefaultsByProtocol) {
  const config c = parsed("[[listeners]]\n[[listeners]]\nprotocol = \"mqtts\"\ncert_file = \"c\"\nkey_file = \"k\"\n"
                                 "address = \"::1\"\n[[listeners]]\nport = 0\n[[listeners]]\nport = 0\n");
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_EQ(c.listeners[0].port, 1883);
  EXPECT_EQ(c.listeners[1].port, 8883);
  EXPECT_EQ(c.listeners[2].port, 0);  // two "any free port" listeners do not clash
  EXPECT_EQ(c.listeners[3].port, 0);
}

TEST(Config, EmptyPathsMeanNone) {
  const config c = parsed("[[listeners]]\ncert_file = \"\"\n[auth]\npassword_file = \"\"\n");
  EXPECT_TRUE(c.listeners[0].cert_file.empty());
  EXPECT_TRUE(c.auth.password_file.empty());
}

// ---- to_toml ------------------------------------------------------------------

TEST(ToToml, DefaultsReadBackEqual) {
  const std::string text = to_toml(config{});
  EXPECT_EQ(parsed(text), config{});
  EXPECT_NE(text.find("\n[[listeners]]\naddress = \"127.0.0.1\"\nport = 1883\nprotocol = \"mqtt\"\n"),
            std::string::npos)
      << text;
}

TEST(ToToml, FullExampleReadsBackEqual) {
  const config c = parsed(full_example);
  EXPECT_EQ(parsed(to_toml(c)), c);
}

TEST(ToToml, NoListenersAndAwkwardStrings) {
  config c;
  c.listeners.clear();
  c.storage.data_dir = "dir with \"quotes\", \\backslashes\\, a\ttab, caf\xc3\xa9 and \x01";
  c.auth.acl_file = "line\nbreak";
  c.limits.denied_subscriptions = {"a/\"b\"/#", "+"};
  const std::string text = to_toml(c);
  EXPECT_NE(text.find("listeners = []\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(data_dir = "dir with \"quotes\", \\backslashes\\, a\ttab, café and \u0001")"),
            std::string::npos)
      << text;
  EXPECT_EQ(parsed(text), c);
}

// ---- refusals: each names the file, the line and the key -------------------------

TEST(Refusal, WrongType) {
  EXPECT_EQ(refusal("# limits\n\n[limits]\nmax_connections = 10\n\n# the keep alive\nmax_keep_alive = \"ten\"\n"),
            R"(ternd.toml:7: limits.max_keep_alive: expected an integer between 0 and 65535, got "ten")");
  // Text from the document cannot forge a line or reach a terminal raw.
  EXPECT_EQ(refusal("\"a\\nternd.toml:1: forged\\u001b[31m\" = 1\n"),
            "ternd.toml:1: a\\nternd.toml:1: forged\\x1b[31m: unknown key");
  EXPECT_EQ(refusal("sys_interval = 1.5\n"),
            "ternd.toml:1: sys_interval: expected an integer between 0 and 86400, got 1.5");
  EXPECT_EQ(refusal("sys_interval = 10.0\n"),
            "ternd.toml:1: sys_interval: expected an integer between 0 and 86400, got 10.0");
  EXPECT_EQ(refusal("io_threads = [1, 2]\n"),
            "ternd.toml:1: io_threads: expected an integer between 0 and 1024, got an array");
  EXPECT_EQ(refusal("io_threads = 1979-05-27\n"),
            "ternd.toml:1: io_threads: expected an integer between 0 and 1024, got a date");
  EXPECT_EQ(refusal("[limits]\nretain_available = \"yes\"\n"),
            R"(ternd.toml:2: limits.retain_available: expected true or false, got "yes")");
  EXPECT_EQ(refusal("[limits]\nallow_zero_length_client_id = 1\n"),
            "ternd.toml:2: limits.allow_zero_length_client_id: expected true or false, got 1");
  EXPECT_EQ(refusal("[storage]\ndata_dir = false\n"),
            "ternd.toml:2: storage.data_dir: expected a path (a string), got false");
  EXPECT_EQ(refusal("[auth]\nacl_file = {}\n"), "ternd.toml:2: auth.acl_file: expected a path (a string), got a table");
  EXPECT_EQ(refusal("[[listeners]]\naddress = 127\n"),
            "ternd.toml:2: listeners[0].address: expected an address (a non-empty string), got 127");
  EXPECT_EQ(refusal("[[listeners]]\naddress = \"\"\n"),
            R"(ternd.toml:2: listeners[0].address: expected an address (a non-empty string), got "")");
}

TEST(Refusal, LongStringsAreCut) {
  const std::string value(100, 'x');
  EXPECT_EQ(refusal("io_threads = \"" + value + "\"\n"),
            "ternd.toml:1: io_threads: expected an integer between 0 and 1024, got \"" + std::string(60, 'x') +
                "\"...");
}

TEST(Refusal, OutOfRange) {
  EXPECT_EQ(refusal("[[listeners]]\n\nport = 70000\n"),
            "ternd.toml:3: listeners[0].port: expected an integer between 0 and 65535, got 70000");
  EXPECT_EQ(refusal("io_threads = -1\n"), "ternd.toml:1: io_threads: expected an integer between 0 and 1024, got -1");
  EXPECT_EQ(refusal("sys_interval = 86401\n"),
            "ternd.toml:1: sys_interval: expected an integer between 0 and 86400, got 86401");
  EXPECT_EQ(refusal("[limits]\nmaximum_qos = 3\n"),
            "ternd.toml:2: limits.maximum_qos: expected an integer between 0 and 2, got 3");
  EXPECT_EQ(refusal("[limits]\nreceive_maximum = 0\n"),
            "ternd.toml:2: limits.receive_maximum: expected an integer between 1 and 65535, got 0");
  EXPECT_EQ(refusal("[limits]\nmaximum_packet_size = 268435461\n"),
            "ternd.toml:2: limits.maximum_packet_size: expected an integer between 1 and 268435460, got 268435461");
  EXPECT_EQ(refusal("[limits]\nmax_session_expiry_interval = 4294967296\n"),
            "ternd.toml:2: limits.max_session_expiry_interval: expected an integer between 0 and 4294967295, got "
            "4294967296");
  EXPECT_EQ(refusal("[limits]\nmax_queued_bytes = 0\n"),
            "ternd.toml:2: limits.max_queued_bytes: expected an integer between 1 and 9223372036854775807, got 0");
}

TEST(Refusal, UnknownKey) {
  EXPECT_EQ(refusal("[limits]\nmax_keepalive = 10\n"),
            R"(ternd.toml:2: limits.max_keepalive: unknown key; did you mean "max_keep_alive"?)");
  EXPECT_EQ(refusal("[limits]\nMax-Keep-Alive = 10\n"),
            R"(ternd.toml:2: limits.Max-Keep-Alive: unknown key; did you mean "max_keep_alive"?)");
  EXPECT_EQ(refusal("io_thread = 2\n"), R"(ternd.toml:1: io_thread: unknown key; did you mean "io_threads"?)");
  EXPECT_EQ(refusal("[limits]\ncolour = \"red\"\n"), "ternd.toml:2: limits.colour: unknown key");
  EXPECT_EQ(refusal("[[listeners]]\nprot = 1\n"),
            R"(ternd.toml:2: listeners[0].prot: unknown key; did you mean "port"?)");
  // A key of another table: named with its table.
  EXPECT_EQ(refusal("backend = \"memory\"\n"),
            R"(ternd.toml:1: backend: unknown key; did you mean "storage.backend"?)");
  EXPECT_EQ(refusal("[limits]\ndata_dir = \"x\"\n"),
            R"(ternd.toml:2: limits.data_dir: unknown key; did you mean "storage.data_dir"?)");
}

TEST(Refusal, UnknownSection) {
  EXPECT_EQ(refusal("\n[limit]\nmax_keep_alive = 10\n"),
            R"(ternd.toml:2: limit: unknown section; did you mean "limits"?)");
  EXPECT_EQ(refusal("[[listener]]\nport = 1\n"),
            R"(ternd.toml:1: listener: unknown section; did you mean "listeners"?)");
  EXPECT_EQ(refusal("[metrics]\nport = 9100\n"), "ternd.toml:1: metrics: unknown section");
  EXPECT_EQ(refusal("[limits.extra]\n"), "ternd.toml:1: limits.extra: unknown section");
}

TEST(Refusal, SectionOfTheWrongShape) {
  EXPECT_EQ(refusal("limits = 5\n"), "ternd.toml:1: limits: expected a table ([limits]), got 5");
  EXPECT_EQ(refusal("[[storage]]\n"), "ternd.toml:1: storage: expected a table ([storage]), got an array");
  EXPECT_EQ(refusal("[listeners]\nport = 1\n"),
            "ternd.toml:1: listeners: expected an array of tables ([[listeners]]), got a table");
  EXPECT_EQ(refusal("listeners = [1883]\n"),
            "ternd.toml:1: listeners: expected an array of tables ([[listeners]]), got an array");
}

TEST(Refusal, BadEnumValue) {
  EXPECT_EQ(refusal("[storage]\nbackend = \"rocks\"\n"),
            R"(ternd.toml:2: storage.backend: expected "rocksdb" or "memory", got "rocks")");
  EXPECT_EQ(refusal("[storage]\ndurability = \"always\"\n"),
            R"(ternd.toml:2: storage.durability: expected "fsync", "batch" or "none", got "always")");
  EXPECT_EQ(refusal("[limits]\nqueue_full = \"block\"\n"),
            R"(ternd.toml:2: limits.queue_full: expected "store" or "hold_acks", got "block")");
  EXPECT_EQ(refusal("[storage]\non_corruption = 1\n"),
            R"(ternd.toml:2: storage.on_corruption: expected "move_aside" or "refuse", got 1)");
  EXPECT_EQ(refusal("[[listeners]]\nprotocol = \"tcp\"\n"),
            R"(ternd.toml:2: listeners[0].protocol: expected "mqtt", "mqtts", "ws" or "wss", got "tcp")");
  EXPECT_EQ(refusal("log_level = \"WARN\"\n"),
            R"(ternd.toml:1: log_level: expected "trace", "debug", "info", "warn", "error" or "off", got "WARN")");
}

TEST(Refusal, DeniedSubscriptions) {
  EXPECT_EQ(refusal("[limits]\ndenied_subscriptions = \"#\"\n"),
            R"(ternd.toml:2: limits.denied_subscriptions: expected an array of topic filters, got "#")");
  // The rule broken is topic's own wording.
  const std::string hash_not_last(topic::validate_filter("a/#/b")->detail);
  const std::string empty(topic::validate_filter("")->detail);
  EXPECT_EQ(refusal("[limits]\ndenied_subscriptions = [\n  \"ok/#\",\n  7,\n  \"a/#/b\",\n  \"\",\n]\n"),
            "ternd.toml:4: limits.denied_subscriptions[1]: expected a topic filter (a string), got 7\n"
            "ternd.toml:5: limits.denied_subscriptions[2]: \"a/#/b\" is not a valid topic filter: " +
                hash_not_last + "\nternd.toml:6: limits.denied_subscriptions[3]: \"\" is not a valid topic filter: " +
                empty);
  EXPECT_NE(hash_not_last.find("MQTT-4.7.1-1"), std::string::npos);
}

TEST(Config, TlsListenerKeys) {
  const config c = parsed(
      "[[listeners]]\nprotocol = \"mqtts\"\ncert_file = \"c\"\nkey_file = \"k\"\nca_file = \"ca\"\n"
      "require_certificate = false\nhandshake_timeout = 3\n"
      "[[listeners]]\nport = 8884\nprotocol = \"mqtts\"\ncert_file = \"c\"\nkey_file = \"k\"\nca_file = \"ca\"\n"
      "use_identity_as_username = true\n");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_FALSE(c.listeners[0].require_certificate);
  EXPECT_FALSE(c.listeners[0].use_identity_as_username);
  EXPECT_EQ(c.listeners[0].handshake_timeout, 3u);
  EXPECT_TRUE(c.listeners[1].require_certificate) << "the default with ca_file";
  EXPECT_TRUE(c.listeners[1].use_identity_as_username);
  EXPECT_EQ(c.listeners[1].handshake_timeout, 10u);
  EXPECT_EQ(parsed(to_toml(c)), c);
}

TEST(Config, WebSocketListenerPath) {
  const config c = parsed("[[listeners]]\nport = 8080\nprotocol = \"ws\"\npath = \"/mqtt\"\n"
                          "[[listeners]]\nport = 8081\nprotocol = \"ws\"\n");
  EXPECT_EQ(c.listeners[0].path, "/mqtt");
  EXPECT_EQ(c.listeners[1].path, "") << "any path";
  EXPECT_EQ(parsed(to_toml(c)), c);
  EXPECT_EQ(refusal("[[listeners]]\npath = \"/mqtt\"\n"),
            R"(ternd.toml:2: listeners[0].path: only used by "ws" and "wss" listeners, not "mqtt")");
  EXPECT_EQ(refusal("[[listeners]]\nport = 8080\nprotocol = \"ws\"\npath = \"mqtt\"\n"),
            R"(ternd.toml:4: listeners[0].path: expected an HTTP path (a string starting with "/"), got "mqtt")");
}

TEST(Refusal, TlsListenerKeysThatDisagree) {
  const std::string tls = "[[listeners]]\nprotocol = \"mqtts\"\ncert_file = \"c\"\nkey_file = \"k\"\n";
  EXPECT_EQ(refusal(tls + "require_certificate = true\n"),
            "ternd.toml:5: listeners[0].require_certificate: needs ca_file (the CA that signs the client certificates)");
  EXPECT_EQ(refusal(tls + "use_identity_as_username = true\n"),
            "ternd.toml:5: listeners[0].use_identity_as_username: needs ca_file (the CA that signs the client "
            "certificates)");
  EXPECT_EQ(refusal(tls + "ca_file = \"ca\"\nrequire_certificate = false\nuse_identity_as_username = true\n"),
            "ternd.toml:7: listeners[0].use_identity_as_username: needs require_certificate = true (a client "
            "without a certificate has no name)");
  EXPECT_EQ(refusal(tls + "handshake_timeout = 0\n"),
            "ternd.toml:5: listeners[0].handshake_timeout: expected an integer between 1 and 3600, got 0");
  EXPECT_EQ(refusal("[[listeners]]\nhandshake_timeout = 5\n"),
            R"(ternd.toml:2: listeners[0].handshake_timeout: only used by "mqtts", "ws" and "wss" listeners (a TCP )"
            "connection has no handshake)");
  EXPECT_EQ(refusal("[[listeners]]\nuse_identity_as_username = false\n"),
            R"(ternd.toml:2: listeners[0].use_identity_as_username: only used by "mqtts" and "wss" listeners, not "mqtt")");
}

TEST(Refusal, ListenerKeysThatDisagree) {
  EXPECT_EQ(refusal("[[listeners]]\nprotocol = \"ws\"\n"),
            R"(ternd.toml:1: listeners[0].port: required for a "ws" listener)");
  EXPECT_EQ(refusal("[[listeners]]\nprotocol = \"mqtts\"\nkey_file = \"k\"\n"),
            R"(ternd.toml:1: listeners[0].cert_file: required for a "mqtts" listener)");
  EXPECT_EQ(refusal("[[listeners]]\nport = 8443\nprotocol = \"wss\"\n"),
            "ternd.toml:1: listeners[0].cert_file: required for a \"wss\" listener\n"
            "ternd.toml:1: listeners[0].key_file: required for a \"wss\" listener");
  EXPECT_EQ(refusal("[[listeners]]\nport = 1\nca_file = \"ca.pem\"\n"),
            R"(ternd.toml:3: listeners[0].ca_file: only used by "mqtts" and "wss" listeners, not "mqtt")");
  EXPECT_EQ(refusal("[[listeners]]\nport = 1884\n\n[[listeners]]\naddress = \"127.0.0.1\"\nport = 1884\n"),
            "ternd.toml:4: listeners[1]: 127.0.0.1:1884 is also listeners[0]");
}

TEST(Refusal, NoWayIn) {
  EXPECT_EQ(refusal("[auth]\nallow_anonymous = false\n"),
            "ternd.toml:2: auth.allow_anonymous: false, but no auth.password_file is set: no client could connect");
}

TEST(Refusal, EveryProblemInFileOrder) {
  EXPECT_EQ(refusal(R"(io_threads = "two"
[storage]
backend = "rocks"
[limits]
maximum_qos = 3
max_keepalive = 1
[[listeners]]
port = -1
)"),
            "ternd.toml:1: io_threads: expected an integer between 0 and 1024, got \"two\"\n"
            "ternd.toml:3: storage.backend: expected \"rocksdb\" or \"memory\", got \"rocks\"\n"
            "ternd.toml:5: limits.maximum_qos: expected an integer between 0 and 2, got 3\n"
            "ternd.toml:6: limits.max_keepalive: unknown key; did you mean \"max_keep_alive\"?\n"
            "ternd.toml:8: listeners[0].port: expected an integer between 0 and 65535, got -1");
}

TEST(Refusal, SyntaxErrorCarriesLineAndColumn) {
  EXPECT_EQ(refusal("a = 1\nb = \n"), "ternd.toml:2:5: Error while parsing key-value pair: expected value, saw '\\n'");
  EXPECT_EQ(refusal("io_threads = 1\nio_threads = 2\n"),
            "ternd.toml:2:14: Error while parsing key-value pair: cannot redefine existing integer 'io_threads'");
  EXPECT_EQ(refusal("[limits]\n[limits]\n"),
            "ternd.toml:2:1: Error while parsing table header: cannot redefine existing table 'limits'");
  EXPECT_EQ(refusal("[storage]\ndata_dir = \"unterminated"),
            "ternd.toml:2:25: Error while parsing string: encountered end-of-file");
  EXPECT_EQ(
      refusal("[limits]\nmax_connections = 99999999999999999999\n"),
      "ternd.toml:2:39: Error while parsing decimal integer: '99999999999999999999' is not representable in 64 bits");
}

// ---- files ----------------------------------------------------------------------

TEST(LoadConfig, ReadsAFile) {
  temp_dir dir;
  const auto file = dir.path() / "ternd.toml";
  std::ofstream(file) << "[storage]\nbackend = \"memory\"\n";
  auto r = load_config(file);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->storage.backend, storage_backend::memory);
}

TEST(LoadConfig, NamesTheFileAsGiven) {
  temp_dir dir;
  const auto file = dir.path() / "bad.toml";
  std::ofstream(file) << "\n[limits]\nmax_keep_alive = \"ten\"\n";
  auto r = load_config(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            file.string() + R"(:3: limits.max_keep_alive: expected an integer between 0 and 65535, got "ten")");
}

TEST(LoadConfig, MissingFile) {
  temp_dir dir;
  const auto file = dir.path() / "missing.toml";
  auto r = load_config(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, file.string() + ": cannot open: No such file or directory");
}

TEST(LoadConfig, TlsFilesMustBeReadableAndAreNamedWithTheirLine) {
  temp_dir dir;
  const auto crt = dir.path() / "server.crt";
  std::ofstream(crt) << "PEM\n";
  const auto file = dir.path() / "ternd.toml";
  std::ofstream(file) << "[[listeners]]\nprotocol = \"mqtts\"\ncert_file = \"" << crt.string()
                      << "\"\nkey_file = \"" << (dir.path() / "missing.key").string() << "\"\nca_file = \""
                      << dir.path().string() << "\"\n";
  auto r = load_config(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, file.string() + ":4: listeners[0].key_file: cannot read \"" +
                                   (dir.path() / "missing.key").string() + "\": No such file or directory\n" +
                                   file.string() + ":5: listeners[0].ca_file: \"" + dir.path().string() +
                                   "\" is a directory");
  // parse_config reads no file: a configuration written for another machine parses.
  EXPECT_TRUE(parse_config("[[listeners]]\nprotocol = \"mqtts\"\ncert_file = \"/nowhere/c\"\nkey_file = \"k\"\n",
                           "ternd.toml"));
}

TEST(LoadConfig, Directory) {
  temp_dir dir;
  auto r = load_config(dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, dir.path().string() + ": is a directory");
}

TEST(LoadConfig, ValueThrowsTheMessage) {
  try {
    (void)parse_config("io_threads = \"x\"\n", "t.toml").value();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), R"(t.toml:1: io_threads: expected an integer between 0 and 1024, got "x")");
  }
}

TEST(Names, MatchTheFile) {
  EXPECT_EQ(to_string(listener_protocol::wss), "wss");
  EXPECT_EQ(to_string(storage_backend::rocksdb), "rocksdb");
  EXPECT_EQ(to_string(durability_mode::none), "none");
  EXPECT_EQ(to_string(queue_full_mode::hold_acks), "hold_acks");
  EXPECT_EQ(to_string(corruption_policy::move_aside), "move_aside");
}

}  // namespace
}  // namespace tern::server

namespace tern::server {
namespace {

TEST(Config, AnonymousClientsArePerListenerAndRefusedOffLoopbackUnlessWritten) {
  const config c = parsed(R"(
[[listeners]]
address = "0.0.0.0"
[[listeners]]
address = "0.0.0.0"
port = 2
allow_anonymous = true
max_connections = 100
[[listeners]]
address = "127.0.0.2"
port = 3
[[listeners]]
address = "::1"
port = 4
allow_anonymous = false
[limits]
max_publish_rate = 50
)");
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_FALSE(allows_anonymous(c, c.listeners[0]));  // off loopback: refused by default
  EXPECT_TRUE(allows_anonymous(c, c.listeners[1]));   // unless written for the listener
  EXPECT_TRUE(allows_anonymous(c, c.listeners[2]));   // loopback: [auth] allow_anonymous (true)
  EXPECT_FALSE(allows_anonymous(c, c.listeners[3]));
  EXPECT_EQ(c.listeners[1].max_connections, 100u);
  EXPECT_EQ(c.limits.max_publish_rate, 50u);
  EXPECT_EQ(parsed(to_toml(c)), c);
  auto closed = c;
  closed.auth.allow_anonymous = false;
  EXPECT_FALSE(allows_anonymous(closed, closed.listeners[2]));
  EXPECT_TRUE(allows_anonymous(closed, closed.listeners[1]));
  EXPECT_TRUE(is_loopback("localhost") && is_loopback("127.1.2.3") && is_loopback("::1"));
  EXPECT_FALSE(is_loopback("0.0.0.0") || is_loopback("::") || is_loopback("192.0.2.2") || is_loopback("example.org") ||
               is_loopback("127.example.org"));
}

}  // namespace
}  // namespace tern::server
