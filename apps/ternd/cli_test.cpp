#include "cli.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tern/log/capture_sink.hpp"

namespace ternd {
namespace {

using tern::log::level;
using tern::server::config;

// What one run of program() did.
struct outcome {
  int code = -1;
  std::string out;
  std::string err;
  std::string log;                          // capture_sink::text()
  std::optional<config> ran_with;    // the configuration run() was given
  level log_level = level::off;             // the logger's level as run() saw it
};

outcome run_program(const std::vector<std::string>& args, int runner_code = 0) {
  std::vector<std::string> storage{"ternd"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : storage) argv.push_back(a.c_str());
  argv.push_back(nullptr);

  outcome o;
  std::ostringstream out, err;
  auto captured = std::make_shared<tern::log::capture_sink>();
  o.code = program(static_cast<int>(storage.size()), argv.data(), out, err, captured,
                   [&](const config& c, tern::log::logger& log) {
                     o.ran_with = c;
                     o.log_level = log.min_level();
                     EXPECT_EQ(log.channel(), "ternd");
                     return runner_code;
                   });
  o.out = out.str();
  o.err = err.str();
  o.log = captured->text();
  return o;
}

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ternd_cli_test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, std::string_view text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

TEST(Ternd, Version) {
  const auto o = run_program({"--version"});
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.out, "ternd " TERND_VERSION "\n");
  EXPECT_EQ(o.err, "");
  EXPECT_FALSE(o.ran_with);
}

TEST(Ternd, Help) {
  const auto o = run_program({"--help"});
  EXPECT_EQ(o.code, 0);
  for (const char* flag : {"-c,--config", "-p,--port", "-v,--verbose", "--data-dir", "--storage", "--version"})
    EXPECT_NE(o.out.find(flag), std::string::npos) << flag << " missing from\n" << o.out;
  EXPECT_FALSE(o.ran_with);
}

TEST(Ternd, UsageErrorsExit2) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--frobnicate"}, {"--port", "nope"}, {"--port", "70000"}, {"-p"}, {"--storage", "disk"}, {"extra"}}) {
    const auto o = run_program(args);
    EXPECT_EQ(o.code, 2) << args.front();
    EXPECT_TRUE(o.err.starts_with("ternd: ")) << o.err;
    EXPECT_TRUE(o.err.ends_with("\nRun with --help for more information.\n")) << o.err;
    EXPECT_FALSE(o.ran_with);
  }
}

TEST(Ternd, RunsWithTheDefaultsAndReturnsTheBrokersCode) {
  const auto o = run_program({}, 7);
  EXPECT_EQ(o.code, 7);
  ASSERT_TRUE(o.ran_with);
  EXPECT_EQ(*o.ran_with, config{});
  EXPECT_EQ(o.log_level, level::info);
  EXPECT_EQ(o.log, "");  // nothing at info on the defaults
  EXPECT_EQ(o.err, "");
}

TEST(Ternd, ConfigErrorsExit2WithEveryProblem) {
  temp_dir dir;
  const auto file = dir.write("bad.toml", "[limits]\nmax_keep_alive = \"ten\"\n[storage]\nbackend = \"rocks\"\n");
  const auto o = run_program({"-c", file});
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err, "ternd: " + file +
                       ":2: limits.max_keep_alive: expected an integer between 0 and 65535, got \"ten\"\n"
                       "ternd: " +
                       file + ":4: storage.backend: expected \"rocksdb\" or \"memory\", got \"rocks\"\n");
  EXPECT_FALSE(o.ran_with);

  const auto missing = run_program({"--config", "/nonexistent/ternd.toml"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, "ternd: /nonexistent/ternd.toml: cannot open: No such file or directory\n");
}

TEST(Ternd, ReadsTheFileThenAppliesTheFlags) {
  temp_dir dir;
  const auto file = dir.write("ternd.toml",
                              "log_level = \"warn\"\n[[listeners]]\nport = 1\n[[listeners]]\nport = 2\n"
                              "[storage]\nbackend = \"memory\"\ndata_dir = \"/from/file\"\n");
  const auto o = run_program({"-c", file, "-p", "1884", "-v", "--data-dir", "/from/flag", "--storage", "rocksdb"});
  EXPECT_EQ(o.code, 0) << o.err;
  ASSERT_TRUE(o.ran_with);
  ASSERT_EQ(o.ran_with->listeners.size(), 2u);
  EXPECT_EQ(o.ran_with->listeners[0].port, 1884);
  EXPECT_EQ(o.ran_with->listeners[1].port, 2);
  EXPECT_EQ(o.ran_with->log_level, level::info);  // warn, one step down
  EXPECT_EQ(o.log_level, level::info);
  EXPECT_EQ(o.ran_with->storage.data_dir, "/from/flag");
  EXPECT_EQ(o.ran_with->storage.backend, tern::server::storage_backend::rocksdb);
}

TEST(Ternd, PortAddsAListenerWhenThereIsNone) {
  temp_dir dir;
  const auto file = dir.write("ternd.toml", "listeners = []\n");
  const auto o = run_program({"-c", file, "--port", "0"});
  EXPECT_EQ(o.code, 0) << o.err;
  ASSERT_TRUE(o.ran_with);
  ASSERT_EQ(o.ran_with->listeners.size(), 1u);
  tern::server::listener_config expected;  // 127.0.0.1, mqtt
  expected.port = 0;
  EXPECT_EQ(o.ran_with->listeners[0], expected);

  const auto none = run_program({"-c", file});
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.err, "ternd: no listener: add a [[listeners]] table to the configuration, or pass --port\n");
}

TEST(Ternd, VerboseSteps) {
  EXPECT_EQ(run_program({"-v"}).log_level, level::debug);
  EXPECT_EQ(run_program({"-vv"}).log_level, level::trace);
  EXPECT_EQ(run_program({"-v", "--verbose", "-v"}).log_level, level::trace);  // no lower than trace
}

TEST(Ternd, VerboseLogsTheEffectiveConfiguration) {
  const auto o = run_program({"-v", "--storage", "memory"});
  config expected;
  expected.log_level = level::debug;
  expected.storage.backend = tern::server::storage_backend::memory;
  std::string text = tern::server::to_toml(expected);
  text.pop_back();
  EXPECT_EQ(o.log, "debug ternd: effective configuration:\n" + text + "\n");
}

TEST(Ternd, WarnsAboutAnonymousClientsFromOtherMachines) {
  temp_dir dir;
  const auto file = dir.write("ternd.toml",
                              "[[listeners]]\naddress = \"0.0.0.0\"\nallow_anonymous = true\n"
                              "[[listeners]]\naddress = \"::1\"\nport = 2\n"
                              "[[listeners]]\naddress = \"0.0.0.0\"\nport = 3\n");
  const auto o = run_program({"-c", file});
  EXPECT_EQ(o.log,
            "warn ternd: 0.0.0.0:1883 accepts clients without a user name from other machines "
            "(allow_anonymous = true)\n");
}

TEST(Ternd, WarnsAboutPasswordsOverPlainTcpFromOtherMachines) {
  temp_dir dir;
  const auto passwd = dir.write("passwd", "");
  const auto file = dir.write("ternd.toml", "[[listeners]]\naddress = \"0.0.0.0\"\n[[listeners]]\nport = 2\n"
                                            "[auth]\npassword_file = \"" + passwd + "\"\n");
  const auto o = run_program({"-c", file});
  EXPECT_EQ(o.log,
            "warn ternd: 0.0.0.0:1883 takes passwords from other machines over plain TCP, readable on the way "
            "(use mqtts)\n");
}

}  // namespace
}  // namespace ternd
