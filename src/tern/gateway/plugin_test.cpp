// Plug-in interfaces: loaded from a shared library named in the config, run
// like a built-in one; refusals name the file and say why.
#include "tern/gateway/plugin.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tern/gateway/builtin.hpp"
#include "tern/log/capture_sink.hpp"

namespace tern::gateway {
namespace {

using namespace std::chrono_literals;

const std::filesystem::path plugins = TERN_PLUGIN_DIR;

TEST(GatewayPlugin, ALibraryNamedInTheConfigRunsAsTheInterface) {
  auto i = make_interface({.name = "process", .library = plugins / "tern_gateway_test_plugin_template.so"});
  ASSERT_TRUE(i) << i.error().message;
  std::map<std::string, setting, std::less<>> settings;
  message_queue commands, statuses;
  auto captured = std::make_shared<log::capture_sink>();
  interface_context io{settings, commands, statuses, log::logger{captured, "interface", log::level::info}};
  std::thread t([&] { EXPECT_TRUE((*i)->run(io)); });
  const message c{.type = kind::command, .device = "lamp", .action = "ON"};
  commands.push(c);
  EXPECT_EQ(statuses.pop_for(10s), c.reply("OK", "from a plug-in"));
  (*i)->stop();
  commands.close();
  t.join();
  i->reset();  // the interface first, then the library
  EXPECT_NE(captured->text().find("echo plug-in: started"), std::string::npos);
}

TEST(GatewayPlugin, RefusalsNameTheFileAndSayWhy) {
  const auto other = plugins / "tern_gateway_test_plugin_other_abi.so";
  auto r = load_plugin(other);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("interface.library: " + other.string() + ": built for the gateway plug-in ABI " +
                                   std::to_string(TERN_GATEWAY_PLUGIN_ABI + 1)),
            0u)
      << r.error().message;
  EXPECT_NE(r.error().message.find("rebuild the plug-in against this tern"), std::string::npos);

  r = load_plugin("/nonexistent/x.so");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("interface.library: /nonexistent/x.so: cannot be loaded: "), 0u) << r.error().message;

  r = load_plugin("libm.so.6");  // a library, not a plug-in
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a tern gateway plug-in (no tern_gateway_plugin symbol"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace tern::gateway
