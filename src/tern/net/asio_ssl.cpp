// Asio's SSL part compiled once (BOOST_ASIO_SEPARATE_COMPILATION: see
// asio.cpp beside it for the rest of Asio). Its own target, tern::asio_ssl
// (CMakeLists.txt), so that whatever else needs Asio's TLS links this one
// copy instead of compiling a second.
#include <boost/asio/ssl/impl/src.hpp>
