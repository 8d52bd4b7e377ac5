// tern/storage/test_dir.hpp (tests only): a fresh directory under the system
// temporary directory, removed with everything in it (and any
// "<dir>.damaged-*" sibling) when the object goes.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace tern::storage::testing {

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tern_storage_test.XXXXXX").string();
    if (::mkdtemp(pattern.data())) root_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }
  // The store's directory; its damaged siblings land beside it, inside root.
  std::filesystem::path data() const { return root_ / "data"; }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace tern::storage::testing
