// tern/conf/error.hpp: how a configuration file is refused. Not a
// tern::error: a refusal is a formatted message listing every problem, one
// a line, each starting "file:line: key: " (conf/reader.hpp makes them).
//
//   auto cfg = tern::server::load_config("ternd.toml");
//   if (!cfg) std::cerr << cfg.error().message << '\n';
#pragma once

#include <string>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace tern::conf {

struct config_error {
  std::string message;
};

template <class T>
using config_result = boost::system::result<T, config_error>;

// Called by config_result<T>::value() on an error: throws std::runtime_error
// with the message.
[[noreturn]] void throw_exception_from_error(const config_error& e, const boost::source_location& loc);

}  // namespace tern::conf
