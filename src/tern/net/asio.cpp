// Asio's compiled part, built once for the whole tree
// (BOOST_ASIO_SEPARATE_COMPILATION; see CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
