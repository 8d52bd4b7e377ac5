// tern/client/transport.hpp (internal to tern::client): the byte stream for
// a broker URI. The streams themselves are the network room's
// (tern/net/stream.hpp: TCP, TLS, WebSocket over either); here only which one a scheme takes.
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "tern/client/options.hpp"
#include "tern/client/uri.hpp"
#include "tern/core/result.hpp"
#include "tern/log/log.hpp"
#include "tern/net/stream.hpp"

namespace tern::client_detail {

using transport = net::stream;

// A stream for `uri` whose I/O objects run on `ex` (`tls` serves mqtts:// and
// wss://, `ws_headers` go with a WebSocket upgrade request;
// `log` gets a line naming a TLS setting that cannot be used), or:
// client_error::unsupported_scheme for a scheme this build cannot serve; the
// error of a TLS setting that cannot be used (see tls_options).
[[nodiscard]] result<std::shared_ptr<transport>> make_transport(const boost::asio::any_io_executor& ex,
                                                                const broker_uri& uri, const tls_options& tls,
                                                                const log::logger& log,
                                                                const ws_header_list& ws_headers = {});

}  // namespace tern::client_detail
