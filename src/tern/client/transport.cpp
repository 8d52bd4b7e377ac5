// Which stream (tern/net/stream.hpp) a broker URI's scheme takes.
#include "tern/client/transport.hpp"

#include "tern/client/error.hpp"

namespace tern::client_detail {

result<std::shared_ptr<transport>> make_transport(const boost::asio::any_io_executor& ex, const broker_uri& uri,
                                                  const tls_options& tls, const log::logger& log,
                                                  const ws_header_list& ws_headers) {
  switch (uri.transport) {
    case broker_uri::kind::tcp: return net::make_tcp_stream(ex);
    case broker_uri::kind::tls: return net::make_tls_stream(ex, tls, log);
    case broker_uri::kind::ws: return net::make_ws_stream(ex, net::make_tcp_stream(ex), uri.path, ws_headers);
    case broker_uri::kind::wss: {
      auto below = net::make_tls_stream(ex, tls, log);
      if (!below) return below.error();
      return net::make_ws_stream(ex, std::move(*below), uri.path, ws_headers);
    }
  }
  return error{make_error_code(client_error::unsupported_scheme), "unknown transport"};
}

}  // namespace tern::client_detail
