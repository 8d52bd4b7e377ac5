// tern/core/result.hpp: result<T>, a T or a tern::error, returned by every
// fallible call in the sans-I/O layers.
//
// It is boost::system::result with tern::error as the error type:
//
//   tern::result<std::uint32_t> r = parse(...);
//   if (!r) return r.error();            // propagate
//   use(*r);
//   auto v = r.value();                  // throws tern::system_error on error
#pragma once

#include <boost/system/result.hpp>

#include "tern/core/error.hpp"

namespace tern {

template <class T>
using result = boost::system::result<T, error>;

// Called by result<T>::value() on an error (found by argument-dependent lookup).
[[noreturn]] inline void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw system_error(e);
}

}  // namespace tern
