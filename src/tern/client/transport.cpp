// Which stream (tern/net/stream.hpp) a broker URI's scheme takes.
#include "tern/client/transport.hpp"

#include "tern/client/error.hpp"

namespace tern::client_detail {

result<std::shared_ptr<transport>> make_transport(const boost::asio::any_io_executor& ex, const broker_uri& uri,
                                                  const tls_options& tls, const log::logger& log) {
  switch (uri.transport) {
    case broker_uri::kind::tcp: return net::make_tcp_stream(ex);
    case broker_uri::kind::tls: return net::make_tls_stream(ex, tls, log);
    case broker_uri::kind::ws:
    case broker_uri::kind::wss:
      log.warn("{}: WebSocket (ws://, wss://) is not supported yet", uri.to_string());
      return error{make_error_code(client_error::unsupported_scheme), "ws:// and wss:// are not supported yet"};
  }
  return error{make_error_code(client_error::unsupported_scheme), "unknown transport"};
}

}  // namespace tern::client_detail
