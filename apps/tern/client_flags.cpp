// The flags tern pub and tern sub share, -D properties, and tern sub's output.
#include "client_flags.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tern/core/error.hpp"
#include "tern/core/json.hpp"
#include "tern/core/utf8.hpp"
#include "tern/log/stderr_sink.hpp"
#include "tern/topic/topic.hpp"

namespace tern::cli {

namespace {

// mosquitto's property names (the MQTT 5.0 names, lower case with dashes).
struct property_name {
  std::string_view name;
  property_id id;
};
constexpr property_name property_names[] = {
    {"payload-format-indicator", property_id::payload_format_indicator},
    {"message-expiry-interval", property_id::message_expiry_interval},
    {"content-type", property_id::content_type},
    {"response-topic", property_id::response_topic},
    {"correlation-data", property_id::correlation_data},
    {"subscription-identifier", property_id::subscription_identifier},
    {"session-expiry-interval", property_id::session_expiry_interval},
    {"assigned-client-identifier", property_id::assigned_client_identifier},
    {"server-keep-alive", property_id::server_keep_alive},
    {"authentication-method", property_id::authentication_method},
    {"authentication-data", property_id::authentication_data},
    {"request-problem-information", property_id::request_problem_information},
    {"will-delay-interval", property_id::will_delay_interval},
    {"request-response-information", property_id::request_response_information},
    {"response-information", property_id::response_information},
    {"server-reference", property_id::server_reference},
    {"reason-string", property_id::reason_string},
    {"receive-maximum", property_id::receive_maximum},
    {"topic-alias-maximum", property_id::topic_alias_maximum},
    {"topic-alias", property_id::topic_alias},
    {"maximum-qos", property_id::maximum_qos},
    {"retain-available", property_id::retain_available},
    {"user-property", property_id::user_property},
    {"maximum-packet-size", property_id::maximum_packet_size},
    {"wildcard-subscription-available", property_id::wildcard_subscription_available},
    {"subscription-identifier-available", property_id::subscription_identifier_available},
    {"shared-subscription-available", property_id::shared_subscription_available},
};

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

failure usage(std::string message) { return {exit_status::usage, std::move(message)}; }

// What -L says about the broker.
struct url_parts {
  bool tls = false;  // mqtts://, wss://
  bool ws = false;   // ws://, wss://
  std::string host;
  std::optional<std::uint16_t> port;
  std::string path;  // ws, wss: the WebSocket path
};

// -L mqtt[s]://[user[:password]@]host[:port]/topic, or
// -L ws[s]://[user[:password]@]host[:port]/path (the WebSocket path; topics with -t)
std::optional<failure> parse_url(std::string_view url, url_parts& parts, client_setup& out,
                                 std::optional<std::string>& user, std::optional<std::string>& password) {
  std::string_view rest;
  if (url.starts_with("mqtt://")) {
    rest = url.substr(7);
  } else if (url.starts_with("mqtts://")) {
    rest = url.substr(8);
    parts.tls = true;
  } else if (url.starts_with("ws://")) {
    rest = url.substr(5);
    parts.ws = true;
  } else if (url.starts_with("wss://")) {
    rest = url.substr(6);
    parts.ws = parts.tls = true;
  } else {
    return usage(fmt::format("-L: unsupported URL scheme in '{}' (expected mqtt://, mqtts://, ws:// or wss://)", url));
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos && !parts.ws)
    return usage("-L: the URL has no topic (mqtt://host[:port]/topic)");
  if (slash == std::string_view::npos) slash = rest.size();
  auto authority = rest.substr(0, slash);
  if (parts.ws) parts.path = slash < rest.size() ? std::string(rest.substr(slash)) : "/mqtt";
  else out.url_topic = std::string(rest.substr(slash + 1));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto cred = authority.substr(0, at);
    authority = authority.substr(at + 1);
    if (auto colon = cred.find(':'); colon != std::string_view::npos) {
      user = std::string(cred.substr(0, colon));
      password = std::string(cred.substr(colon + 1));
    } else {
      user = std::string(cred);
    }
  }
  std::string_view host = authority;
  if (authority.starts_with('[')) {  // [::1]:1883
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return usage("-L: unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (authority.starts_with(':')) {
      auto p = parse_uint(authority.substr(1));
      if (!p || *p == 0 || *p > 65535) return usage("-L: invalid port");
      parts.port = static_cast<std::uint16_t>(*p);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    auto p = parse_uint(authority.substr(colon + 1));
    if (!p || *p == 0 || *p > 65535) return usage("-L: invalid port");
    parts.port = static_cast<std::uint16_t>(*p);
  }
  if (host.empty()) return usage("-L: the URL has no host");
  parts.host = std::string(host);
  return std::nullopt;
}

// The TLS flags as client options; a file that cannot be read is a failure
// (status 1) named here, where the library would only say "No such file".
std::optional<failure> resolve_tls(const client_flags& f, tls_options& tls) {
  if (!f.unsupported_tls.empty())
    return failure{exit_status::failure,
                   fmt::format("{} is not supported yet (tern uses TLS 1.2 or 1.3 with OpenSSL's default ciphers)",
                               f.unsupported_tls.front())};
  if (f.cert.empty() != f.key.empty()) return usage("--cert and --key go together: give both or neither");
  for (auto [flag, path] : {std::pair<std::string_view, const std::string*>{"--cafile", &f.cafile},
                            {"--capath", &f.capath}, {"--cert", &f.cert}, {"--key", &f.key}}) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0)
      return failure{exit_status::failure, fmt::format("{} '{}': {}", flag, *path, std::strerror(errno))};
  }
  tls.ca_file = f.cafile;
  tls.ca_path = f.capath;
  tls.cert_file = f.cert;
  tls.key_file = f.key;
  tls.verify_host_name = !f.insecure;  // mosquitto_pub's --insecure: the chain is still verified
  return std::nullopt;
}

}  // namespace

std::string_view tool_name(tool t) noexcept { return t == tool::pub ? "tern pub" : "tern sub"; }

void add_client_flags(CLI::App& cmd, client_flags& f, tool t) {
  cmd.set_help_flag("--help", "Print this help and exit");
  cmd.add_option("-h,--host", f.host, "Broker host")->capture_default_str();
  cmd.add_option("-p,--port", f.port, "Broker port (default: 1883; 8883 with TLS)");
  cmd.add_option("-L,--url", f.url,
                 "mqtt[s]://[user[:password]@]host[:port]/topic instead of -h -p -u -P -t; or "
                 "ws[s]://[user[:password]@]host[:port]/path (WebSocket on that path, /mqtt by default)");
  cmd.add_option("--ws-header", f.ws_headers, "WebSocket: an extra header of the upgrade request ('Name: value'; repeatable)");
  cmd.add_option("-i,--id", f.id, fmt::format("Client id (default: tern_{}_<pid>)", t == tool::pub ? "pub" : "sub"));
  cmd.add_option("-I,--id-prefix", f.id_prefix, "Client id: this prefix and the process id");
  cmd.add_option("-u,--username", f.username, "User name");
  cmd.add_option("-P,--pw", f.password, "Password");
  cmd.add_option("-V,--protocol-version", f.version, "MQTT version: 5, 311 or 31 (also mqttv5, mqttv311, mqttv31)")
      ->capture_default_str();
  cmd.add_option("-k,--keepalive", f.keepalive, "Keep alive, seconds (0: none)")->capture_default_str();
  cmd.add_flag("-c,--disable-clean-session", f.persistent,
               "Persistent session: clean session off (5.0: session expiry -1 unless -x); needs -i");
  cmd.add_option("-x,--session-expiry-interval", f.session_expiry,
                 "5.0 session expiry, seconds; -1, 4294967295 or \u221e: never");
  cmd.add_option("-D,--property", f.properties,
                 "5.0 property: -D command identifier value (user-property takes a name and a value); commands: " +
                     std::string(t == tool::pub ? "connect, publish, disconnect, will"
                                                : "connect, subscribe, unsubscribe, disconnect, will"))
      ->expected(3, CLI::detail::expected_max_vector_size)  // per -D: 3, or 4 for user-property
      ->type_name("CMD ID VALUE");
  cmd.add_option("--will-topic", f.will_topic, "Will: topic");
  cmd.add_option("--will-payload", f.will_payload, "Will: payload (default: empty)");
  cmd.add_option("--will-qos", f.will_qos, "Will: QoS")->check(CLI::Range(0, 2));
  cmd.add_flag("--will-retain", f.will_retain, "Will: retained");
  const char* tls_group = "TLS (any of these, or -L mqtts://, connects with TLS; -p then defaults to 8883)";
  cmd.add_option("--cafile", f.cafile, "TLS: file of trusted CA certificates (PEM)")->group(tls_group);
  cmd.add_option("--capath", f.capath, "TLS: folder of trusted CA certificates, hashed (openssl rehash)")
      ->group(tls_group);
  cmd.add_option("--cert", f.cert, "TLS: client certificate (PEM), for brokers that ask for one; needs --key")
      ->group(tls_group);
  cmd.add_option("--key", f.key, "TLS: the client certificate's private key (PEM, unencrypted)")->group(tls_group);
  cmd.add_flag("--insecure", f.insecure,
               "TLS: do not check that the broker's certificate names the host (its chain is still verified)")
      ->group(tls_group);
  cmd.add_flag("--tls-use-os-certs", f.tls_use_os_certs,
               "TLS: trust the system's CAs (the default when neither --cafile nor --capath is given)")
      ->group(tls_group);
  for (const char* flag : {"--tls-version", "--ciphers"}) {
    cmd.add_option_function<std::string>(
           flag, [&f, flag](const std::string&) { f.unsupported_tls.emplace_back(flag); },
           "TLS: not supported yet (exit 1)")
        ->group(tls_group);
  }
  cmd.add_flag("-d,--debug", f.debug, "Log the client's events on stderr");
  cmd.add_flag("--quiet", f.quiet, "Print no error messages");
}

std::optional<failure> parse_properties(const std::vector<std::string>& words, tool t, property_sets& out) {
  std::vector<std::pair<std::string_view, properties::builder>> sets;
  auto builder_of = [&](std::string_view cmd) -> properties::builder& {
    for (auto& [c, b] : sets)
      if (c == cmd) return b;
    return sets.emplace_back(cmd, properties::builder{}).second;
  };
  std::size_t i = 0;
  while (i < words.size()) {
    if (words.size() - i < 3) return usage("-D: expected a command, a property and a value");
    const std::string_view cmd = words[i], ident = words[i + 1];
    property_context ctx{};
    bool usable = false;
    if (cmd == "connect") ctx = property_context::connect, usable = true;
    else if (cmd == "will") ctx = property_context::will, usable = true;
    else if (cmd == "disconnect") ctx = property_context::disconnect, usable = true;
    else if (cmd == "publish") ctx = property_context::publish, usable = t == tool::pub;
    else if (cmd == "subscribe") ctx = property_context::subscribe, usable = t == tool::sub;
    else if (cmd == "unsubscribe") ctx = property_context::unsubscribe, usable = t == tool::sub;
    else return usage(fmt::format("-D: unknown command '{}'", cmd));
    if (!usable) return usage(fmt::format("-D {}: {} sends no {} packet", cmd, tool_name(t), cmd));
    auto known = std::find_if(std::begin(property_names), std::end(property_names),
                              [&](const property_name& p) { return p.name == ident; });
    if (known == std::end(property_names)) return usage(fmt::format("-D {}: unknown property '{}'", cmd, ident));
    const auto id = known->id;
    const bool client_may_send = allowed_in(id, ctx) &&
                                 !(ctx == property_context::publish && (id == property_id::subscription_identifier ||
                                                                        id == property_id::topic_alias));
    if (!client_may_send)
      return usage(fmt::format("-D {}: a client does not send {} in {}", cmd, ident,
                               cmd == "will" ? "a will" : fmt::format("{}", cmd)));
    const auto type = *type_of(id);
    const std::size_t n = type == property_type::utf8_pair ? 4 : 3;
    if (words.size() - i < n) return usage(fmt::format("-D {} {}: expected a name and a value", cmd, ident));
    const std::string_view value = words[i + 2];
    property p;
    p.id = id;
    switch (type) {
      case property_type::byte:
      case property_type::two_byte:
      case property_type::four_byte:
      case property_type::varint: {
        const std::uint64_t max = type == property_type::byte       ? 0xFF
                                  : type == property_type::two_byte ? 0xFFFF
                                  : type == property_type::varint   ? 268'435'455
                                                                    : 0xFFFF'FFFF;
        auto v = parse_uint(value);
        if (!v || *v > max || (type == property_type::varint && *v == 0))
          return usage(fmt::format("-D {} {}: expected an integer from {} to {}, got '{}'", cmd, ident,
                                   type == property_type::varint ? 1 : 0, max, value));
        p.integer = static_cast<std::uint32_t>(*v);
        break;
      }
      case property_type::utf8:
        if (!utf8::is_valid(value)) return usage(fmt::format("-D {} {}: not valid UTF-8", cmd, ident));
        p.text = value;
        break;
      case property_type::binary: p.data = as_bytes(value); break;
      case property_type::utf8_pair:
        p.text = value;
        p.value = words[i + 3];
        break;
    }
    if (auto e = builder_of(cmd).add(p)) return usage(fmt::format("-D {} {}: {}", cmd, ident, e->message()));
    i += n;
  }
  for (auto& [cmd, b] : sets) {
    auto built = b.build();
    if (cmd == "connect") out.connect = built;
    else if (cmd == "publish") out.publish = built;
    else if (cmd == "subscribe") out.subscribe = built;
    else if (cmd == "unsubscribe") out.unsubscribe = built;
    else if (cmd == "disconnect") out.disconnect = built;
    else if (cmd == "will") out.will = built;
  }
  return std::nullopt;
}

std::optional<failure> resolve(const client_flags& f, tool t, client_setup& out) {
  auto& c = out.connect;
  if (f.version == "5" || f.version == "mqttv5") c.version = protocol_version::v5;
  else if (f.version == "311" || f.version == "mqttv311") c.version = protocol_version::v3_1_1;
  else if (f.version == "31" || f.version == "mqttv31") c.version = protocol_version::v3_1;
  else return usage(fmt::format("-V: unknown protocol version '{}' (5, 311 or 31)", f.version));
  const bool v5 = c.version == protocol_version::v5;

  c.username = f.username;
  c.password = f.password;
  url_parts broker{.tls = false, .ws = false, .host = f.host, .port = f.port, .path = {}};
  if (!f.url.empty()) {
    broker = {};
    if (auto bad = parse_url(f.url, broker, out, c.username, c.password)) return bad;
    if (f.username) c.username = f.username;
    if (f.password) c.password = f.password;
  }
  // TLS when -L says mqtts:// or any TLS flag is given (as mosquitto_pub);
  // the port then defaults to 8883 (with -L mqtt:// too: the flags win).
  const bool tls = broker.tls || !f.cafile.empty() || !f.capath.empty() || !f.cert.empty() || !f.key.empty() ||
                   f.insecure || f.tls_use_os_certs || !f.unsupported_tls.empty();
  if (tls) {
    if (auto bad = resolve_tls(f, out.client.tls)) return bad;
  }
  const bool v6 = broker.host.find(':') != std::string::npos;
  if (broker.ws)
    out.uri = fmt::format("{}://{}{}{}:{}{}", tls ? "wss" : "ws", v6 ? "[" : "", broker.host, v6 ? "]" : "",
                          broker.port.value_or(tls ? 443 : 80), broker.path);
  else
    out.uri = fmt::format("{}://{}{}{}:{}", tls ? "mqtts" : "mqtt", v6 ? "[" : "", broker.host, v6 ? "]" : "",
                          broker.port.value_or(tls ? 8883 : 1883));
  for (const auto& h : f.ws_headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return usage(fmt::format("--ws-header: expected 'Name: value', got '{}'", h));
    auto value = std::string_view(h).substr(colon + 1);
    while (value.starts_with(' ')) value.remove_prefix(1);
    out.client.ws_headers.emplace_back(h.substr(0, colon), std::string(value));
  }
  if (c.password && !c.username) return usage("-P needs -u (MQTT sends no password without a user name)");

  if (!f.id.empty() && !f.id_prefix.empty()) return usage("-i and -I cannot be used together");
  const auto pid = static_cast<long>(::getpid());
  if (!f.id.empty()) c.client_id = f.id;
  else if (!f.id_prefix.empty()) c.client_id = fmt::format("{}{}", f.id_prefix, pid);
  else if (f.persistent) return usage("-c needs a client id (-i or -I): a persistent session is found by it");
  else c.client_id = fmt::format("tern_{}_{}", t == tool::pub ? "pub" : "sub", pid);
  if (c.version == protocol_version::v3_1 && c.client_id.size() > 23)
    return usage(fmt::format("-V 31: the client id '{}' is longer than 23 characters", c.client_id));

  c.keep_alive = f.keepalive;
  c.clean_start = !f.persistent;
  if (!f.session_expiry.empty()) {
    const auto& x = f.session_expiry;
    if (x == "-1" || x == "\u221e") {
      c.session_expiry = 0xFFFF'FFFFu;
    } else if (auto v = parse_uint(x); v && *v <= 0xFFFF'FFFFu) {
      c.session_expiry = static_cast<std::uint32_t>(*v);
    } else {
      return usage(fmt::format("-x: expected seconds from 0 to 4294967295, -1 or \u221e, got '{}'", x));
    }
  } else if (f.persistent) {
    c.session_expiry = 0xFFFF'FFFFu;
  }
  if (!v5) c.session_expiry.reset();  // 5.0 only, as in mosquitto

  property_sets props;
  if (!f.properties.empty()) {
    if (!v5) return usage("-D sets MQTT 5 properties: add -V 5");
    if (auto bad = parse_properties(f.properties, t, props)) return bad;
  }
  c.props = props.connect;
  out.publish_props = props.publish;
  out.subscribe_props = props.subscribe;
  out.unsubscribe_props = props.unsubscribe;
  out.disconnect_props = props.disconnect;

  if (f.will_topic) {
    if (auto e = topic::validate_name(*f.will_topic))
      return usage(fmt::format("--will-topic '{}': {}", *f.will_topic, e->message()));
    will_message w;
    w.topic = *f.will_topic;
    w.payload = shared_bytes::copy(f.will_payload.value_or(""));
    w.qos = static_cast<qos>(f.will_qos);
    w.retain = f.will_retain;
    w.props = props.will;
    c.will = std::move(w);
  } else if (f.will_payload || f.will_qos != 0 || f.will_retain) {
    return usage("--will-payload, --will-qos and --will-retain need --will-topic");
  } else if (!props.will.empty()) {
    return usage("-D will: needs --will-topic");
  }

  if (f.debug) out.client.log = log::logger{log::make_stderr_sink(), "client", log::level::debug};
  return std::nullopt;
}

failure connect_failure(std::string_view uri, boost::system::error_code ec) {
  const std::error_code e(ec);
  int status = exit_status::failure;
  std::string what = ec.message();
  if (e.category() == reason_category() || e.category() == connect_return_code_category()) {
    status = e.value();
    what = fmt::format("the broker refused the connection: {} ({})", ec.message(), e.value());
  }
  return {status, fmt::format("cannot connect to {}: {}", uri, what)};
}

int report(const client_flags& f, tool t, const failure& why) {
  if (!why.message.empty() && (!f.quiet || why.status == exit_status::usage)) {
    std::cerr << tool_name(t) << ": " << why.message << '\n';
    if (why.status == exit_status::usage) std::cerr << "Run '" << tool_name(t) << " --help' for more information.\n";
  }
  return why.status;
}

// ============================================================================ output

namespace {

void pad(std::string& out, std::string_view s, bool left, bool zero, int width, int precision) {
  if (precision >= 0 && s.size() > static_cast<std::size_t>(precision)) s = s.substr(0, static_cast<std::size_t>(precision));
  const std::size_t w = width > 0 ? static_cast<std::size_t>(width) : 0;
  const std::size_t fill = w > s.size() ? w - s.size() : 0;
  if (left) {
    out += s;
    out.append(fill, ' ');
  } else {
    out.append(fill, zero ? '0' : ' ');
    out += s;
  }
}

std::string hex(bytes_view b, bool upper) {
  static constexpr char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
  const char* d = upper ? up : lo;
  std::string s;
  s.reserve(b.size() * 2);
  for (auto c : b) {
    const auto v = static_cast<unsigned>(c);
    s += d[v >> 4];
    s += d[v & 15];
  }
  return s;
}

std::tm local_tm(std::int64_t ns) {
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  return tm;
}

std::string strftime_of(const char* fmt_, const std::tm& tm) {
  char buf[128];
  const auto n = std::strftime(buf, sizeof buf, fmt_, &tm);
  return std::string(buf, n);
}

std::string user_properties_text(const properties& p) {
  std::string s;
  p.for_each_user_property([&](std::string_view k, std::string_view v) {
    if (!s.empty()) s += ' ';
    s += k;
    s += ':';
    s += v;
  });
  return s;
}

std::string json_of(const publish_packet& m, std::int64_t ns) {
  std::string out = "{\"tst\":";
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm utc{};
  ::gmtime_r(&secs, &utc);
  append_json_string(out, strftime_of("%Y-%m-%dT%H:%M:%S", utc) + fmt::format(".{:06}Z", (ns % 1'000'000'000) / 1000));
  out += ",\"topic\":";
  append_json_string(out, m.topic());
  out += fmt::format(",\"qos\":{},\"retain\":{},\"payloadlen\":{}", static_cast<int>(m.qos), m.retain ? 1 : 0,
                     m.payload().size());
  const auto& p = m.props();
  if (!p.empty()) {
    std::string props;
    auto field = [&](std::string_view name) {
      props += props.empty() ? "" : ",";
      append_json_string(props, name);
      props += ':';
    };
    if (!p.user_properties().empty()) {
      field("user-properties");
      std::string o;
      p.for_each_user_property([&](std::string_view k, std::string_view v) {
        o += o.empty() ? "{" : ",";
        append_json_string(o, k);
        o += ':';
        append_json_string(o, v);
      });
      props += o + "}";
    }
    if (auto v = p.get<property_id::content_type>()) field("content-type"), append_json_string(props, *v);
    if (auto v = p.get<property_id::response_topic>()) field("response-topic"), append_json_string(props, *v);
    if (auto v = p.get<property_id::correlation_data>()) field("correlation-data"), append_json_string(props, as_chars(*v));
    if (auto v = p.get<property_id::message_expiry_interval>()) field("message-expiry-interval"), props += std::to_string(*v);
    if (auto v = p.get<property_id::payload_format_indicator>()) field("payload-format-indicator"), props += std::to_string(*v);
    if (auto ids = p.subscription_identifiers(); !ids.empty()) field("subscription-identifier"), props += std::to_string(ids[0]);
    if (!props.empty()) out += ",\"properties\":{" + props + "}";
  }
  out += ",\"payload\":";
  if (m.payload().size() == 0) out += "null";
  else append_json_string(out, m.payload().view());
  out += '}';
  return out;
}

}  // namespace

std::variant<output_format, std::string> output_format::compile(std::string_view f) {
  output_format o;
  std::string lit;
  auto flush = [&] {
    if (!lit.empty()) o.parts_.emplace_back(std::move(lit));
    lit.clear();
  };
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '\\') {
      if (++i >= f.size()) return std::string("-F: the format ends with '\\'");
      switch (f[i]) {
        case '\\': lit += '\\'; break;
        case '0': lit += '\0'; break;
        case 'a': lit += '\a'; break;
        case 'e': lit += '\x1b'; break;
        case 'n': lit += '\n'; break;
        case 'r': lit += '\r'; break;
        case 't': lit += '\t'; break;
        case 'v': lit += '\v'; break;
        default: return fmt::format("-F: invalid escape sequence '\\{}'", f[i]);
      }
    } else if (c == '@') {
      if (++i >= f.size()) return std::string("-F: the format ends with '@'");
      if (f[i] == '@') {
        lit += '@';
      } else {
        flush();
        o.parts_.emplace_back(spec{'@', f[i]});
      }
    } else if (c == '%') {
      spec s;
      ++i;
      for (; i < f.size() && (f[i] == '-' || f[i] == '0'); ++i) (f[i] == '-' ? s.left : s.zero) = true;
      for (; i < f.size() && f[i] >= '0' && f[i] <= '9'; ++i) s.width = std::min(s.width * 10 + (f[i] - '0'), 10'000);
      if (i < f.size() && f[i] == '.') {
        s.precision = 0;
        for (++i; i < f.size() && f[i] >= '0' && f[i] <= '9'; ++i)
          s.precision = std::min(s.precision * 10 + (f[i] - '0'), 10'000);
      }
      if (i >= f.size()) return std::string("-F: the format ends inside a '%' sequence");
      s.conv = f[i];
      if (s.conv == '%') {
        lit += '%';
        continue;
      }
      if (std::string_view("tpqrmlxXPCDEFRSAIUj").find(s.conv) == std::string_view::npos)
        return fmt::format("-F: invalid format specifier '{}'{}", s.conv,
                           s.conv == 'J' ? " (%J is not supported: use %j)" : "");
      flush();
      o.parts_.emplace_back(s);
    } else {
      lit += c;
    }
  }
  flush();
  return o;
}

void output_format::render(const publish_packet& m, std::int64_t ns, std::string& out) const {
  const auto& p = m.props();
  for (const auto& part : parts_) {
    if (const auto* lit = std::get_if<std::string>(&part)) {
      out += *lit;
      continue;
    }
    const auto& s = std::get<spec>(part);
    auto text = [&](std::string_view v) { pad(out, v, s.left, false, s.width, s.precision); };
    auto number = [&](std::uint64_t v) { pad(out, std::to_string(v), s.left, s.zero, s.width, -1); };
    auto opt_number = [&](std::optional<std::uint32_t> v) {
      if (v) number(*v);
    };
    switch (s.conv) {
      case '@': {
        if (s.arg == 'N') {
          out += fmt::format("{:09}", ns % 1'000'000'000);
        } else {
          const char f2[] = {'%', s.arg, '\0'};
          out += strftime_of(f2, local_tm(ns));
        }
        break;
      }
      case 't': text(m.topic()); break;
      case 'p': pad(out, m.payload().view(), s.left, false, s.width, -1); break;
      case 'q': out += std::to_string(static_cast<int>(m.qos)); break;
      case 'r': out += m.retain ? '1' : '0'; break;
      case 'm': number(m.packet_id); break;
      case 'l': number(m.payload().size()); break;
      case 'x': pad(out, hex(m.payload().span(), false), s.left, s.zero, s.width, -1); break;
      case 'X': pad(out, hex(m.payload().span(), true), s.left, s.zero, s.width, -1); break;
      case 'P': out += user_properties_text(p); break;
      case 'C':
        if (auto v = p.get<property_id::content_type>()) text(*v);
        break;
      case 'D':
        if (auto v = p.get<property_id::correlation_data>()) out += as_chars(*v);
        break;
      case 'E': opt_number(p.get<property_id::message_expiry_interval>()); break;
      case 'F': opt_number(p.get<property_id::payload_format_indicator>()); break;
      case 'R':
        if (auto v = p.get<property_id::response_topic>()) text(*v);
        break;
      case 'S':
        if (auto ids = p.subscription_identifiers(); !ids.empty()) number(ids[0]);
        break;
      case 'A': opt_number(p.get<property_id::topic_alias>()); break;
      case 'I': text(strftime_of("%Y-%m-%dT%H:%M:%S%z", local_tm(ns))); break;
      case 'U': out += fmt::format("{}.{:09}", ns / 1'000'000'000, ns % 1'000'000'000); break;
      case 'j': out += json_of(m, ns); break;
      default: break;
    }
  }
}

void print_message(const output_options& o, const publish_packet& m, std::int64_t now_ns, std::string& out) {
  if (o.format) {
    o.format->render(m, now_ns, out);
  } else if (o.verbose) {
    out += m.topic();
    out += ' ';
    if (m.payload().size() == 0) out += "(null)";
    else out += m.payload().view();
  } else {
    if (m.payload().size() == 0) return;  // mosquitto_sub prints nothing for a null message
    out += m.payload().view();
  }
  if (o.newline) out += '\n';
}

}  // namespace tern::cli
