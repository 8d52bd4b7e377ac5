// tern/core/string_hash.hpp: a transparent string hash, so that a map keyed
// by std::string can be searched with a std::string_view (no allocation).
//
//   std::unordered_map<std::string, int, tern::string_hash, std::equal_to<>> m;
//   m.find(std::string_view("a/b"));
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace tern {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace tern
