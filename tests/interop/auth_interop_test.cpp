// Interop of tern::auth and `tern passwd` with Debian's mosquitto 2.0.11:
// password files both ways, and the ACL decisions of the same file side by
// side with what a real mosquitto delivers.
//
// - A file written by mosquitto_passwd (-c -b, -I, -H sha512) verifies in
//   tern::auth::password_file.
// - A file written by `tern passwd` (the default cost, -I) is accepted by a
//   mosquitto of our own (password_file, allow_anonymous false) for
//   mosquitto_pub -u -P; a wrong password and an anonymous client are refused.
// - One ACL file with user sections, anonymous lines, deny, and %c/%u
//   patterns: for every (client, topic), what mosquitto lets the client
//   publish and what it delivers to it (retained messages, read access) is
//   what tern::auth::acl::allowed says.
//
// Started as root, mosquitto drops to user mosquitto: our files sit in a
// world-readable folder and are made readable (mode 0644) before it starts.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/mosquitto.hpp"
#include "tern/auth/acl.hpp"
#include "tern/auth/password_file.hpp"

namespace tern::auth {
namespace {

// A folder of our own, world-readable, removed at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/tern-auth-interop-XXXXXX";
    if (::mkdtemp(tmpl)) path = tmpl;
    ::chmod(path.c_str(), 0755);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Starts `args` (found on PATH) with stdout and stderr to `out`; the pid, or -1.
pid_t start(std::vector<std::string> args, const std::string& out = "/dev/null") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Waits for `pid`: its exit status, or -1.
int finish(pid_t pid) {
  int status = 0;
  if (pid <= 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run(std::vector<std::string> args, const std::string& out = "/dev/null") {
  return finish(start(std::move(args), out));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---- password files -----------------------------------------------------------

TEST(AuthInterop, MosquittoPasswdFilesVerifyInTern) {
  temp_dir dir;
  const auto file = dir / "passwd";
  ASSERT_EQ(run({"mosquitto_passwd", "-c", "-b", file, "alice", "wonder land"}), 0);
  ASSERT_EQ(run({"mosquitto_passwd", "-I", "5000", "-b", file, "bob", "b:u/i+l#d"}), 0);
  ASSERT_EQ(run({"mosquitto_passwd", "-H", "sha512", "-b", file, "carol", "c\xC3\xA4rol"}), 0);
  const auto f = password_file::load(file);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ(f->find("alice")->iterations, 101u);
  EXPECT_EQ(f->find("bob")->iterations, 5000u);
  EXPECT_EQ(f->find("carol")->kind, hash_kind::sha512);
  EXPECT_TRUE(f->verify("alice", "wonder land"));
  EXPECT_TRUE(f->verify("bob", "b:u/i+l#d"));
  EXPECT_TRUE(f->verify("carol", "c\xC3\xA4rol"));
  EXPECT_FALSE(f->verify("alice", "wonderland"));
  EXPECT_FALSE(f->verify("bob", "b:u/i+l#"));
  EXPECT_FALSE(f->verify("carol", "carol"));
  // Written back unchanged, and mosquitto_passwd -D still reads ours.
  EXPECT_EQ(f->to_text(), slurp(file));
  ASSERT_TRUE(f->save(file));
  EXPECT_EQ(run({"mosquitto_passwd", "-D", file, "carol"}), 0);
  EXPECT_FALSE(password_file::load(file)->contains("carol"));
}

TEST(AuthInterop, MosquittoAcceptsWhatTernPasswdWrites) {
  temp_dir dir;
  const auto file = dir / "passwd";
  ASSERT_EQ(run({TERN_CLI, "passwd", "-c", "-b", file, "alice", "wonder land"}), 0);  // 210,000 iterations
  ASSERT_EQ(run({TERN_CLI, "passwd", "-b", "-I", "1000", file, "bob", "b:u/i+l#d"}), 0);
  ASSERT_EQ(run({TERN_CLI, "passwd", "-b", "-H", "sha512", file, "carol", "c4rol"}), 0);
  ASSERT_EQ(run({TERN_CLI, "passwd", "-b", file, "dave", "gone"}), 0);
  ASSERT_EQ(run({TERN_CLI, "passwd", "-D", file, "dave"}), 0);
  EXPECT_TRUE(slurp(file).starts_with("alice:$7$210000$")) << slurp(file);
  ::chmod(file.c_str(), 0644);

  testing::mosquitto broker("password_file " + file + "\nallow_anonymous false\n");
  ASSERT_TRUE(broker.start());
  const auto port = std::to_string(broker.port());
  const auto pub = [&](std::vector<std::string> login) {
    std::vector<std::string> args{"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "t", "-m", "m", "-q", "1"};
    args.insert(args.end(), login.begin(), login.end());
    return run(args);
  };
  EXPECT_EQ(pub({"-u", "alice", "-P", "wonder land"}), 0);
  EXPECT_EQ(pub({"-u", "bob", "-P", "b:u/i+l#d"}), 0);
  EXPECT_EQ(pub({"-u", "carol", "-P", "c4rol"}), 0);
  EXPECT_EQ(pub({"-u", "alice", "-P", "wonderland"}), 5);  // CONNACK 5: not authorised
  EXPECT_EQ(pub({"-u", "bob", "-P", ""}), 5);
  EXPECT_EQ(pub({"-u", "dave", "-P", "gone"}), 5);
  EXPECT_NE(pub({}), 0);
  // And tern reads it back.
  const auto f = password_file::load(file);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->verify("alice", "wonder land"));
}

// ---- ACL ------------------------------------------------------------------------

constexpr std::string_view acl_text =
    "# anonymous clients\n"
    "topic read public/#\n"
    "user alice\n"
    "topic readwrite alice/#\n"
    "topic deny alice/secret/#\n"
    "topic read shared/#\n"
    "user bob\n"
    "topic write shared/bob\n"
    "topic read alice/#\n"
    "user admin\n"
    "topic readwrite #\n"
    "pattern read devices/%c/in\n"
    "pattern write devices/%c/out\n"
    "pattern readwrite users/%u/#\n";

struct identity {
  std::optional<std::string> user;
  std::string client_id;
  std::string name() const { return user.value_or("anonymous") + "@" + client_id; }
  std::vector<std::string> login() const {
    std::vector<std::string> a{"-i", client_id};
    if (user) a.insert(a.end(), {"-u", *user, "-P", "pw-" + *user});
    return a;
  }
};

// anon+x: a '+' in a client id turns off every pattern for it, but not the
// anonymous lines (mosquitto 2.0 looks at a client's own section first).
const std::vector<identity> clients{
    {"alice", "dev-a"}, {"bob", "dev-b"}, {std::nullopt, "anon1"}, {std::nullopt, "anon+x"}};
const std::vector<std::string> topics{"public/x",        "alice/x",         "alice/secret/x",   "shared/bob",
                                      "shared/x",        "devices/dev-a/in", "devices/dev-a/out", "devices/dev-b/in",
                                      "devices/dev-b/out", "devices/anon1/in", "devices/anon1/out", "users/alice/x",
                                      "users/bob/x",     "other"};

class AclInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    password_file users;
    hash_options cheap;
    cheap.iterations = 1000;
    for (const char* u : {"alice", "bob", "admin"}) ASSERT_TRUE(users.set(u, std::string("pw-") + u, cheap));
    ASSERT_TRUE(users.save(dir_ / "passwd"));
    std::ofstream(dir_ / "acl") << acl_text;
    ::chmod((dir_ / "passwd").c_str(), 0644);
    ::chmod((dir_ / "acl").c_str(), 0644);
    auto a = acl::parse(acl_text, "acl");
    ASSERT_TRUE(a) << a.error().message;
    acl_ = std::move(*a);
    broker_ = std::make_unique<testing::mosquitto>("password_file " + (dir_ / "passwd") + "\nacl_file " +
                                                   (dir_ / "acl") + "\n");
    ASSERT_TRUE(broker_->start());
    port_ = std::to_string(broker_->port());
  }

  int pub(const identity& who, const std::string& topic, const std::string& payload, bool retain) {
    std::vector<std::string> a{"mosquitto_pub", "-h", "127.0.0.1", "-p", port_, "-q", "1", "-t", topic, "-m", payload};
    if (retain) a.push_back("-r");
    const auto l = who.login();
    a.insert(a.end(), l.begin(), l.end());
    return run(a);
  }
  // mosquitto_sub -v on '#' as `who`; stop() gives the "topic payload" lines.
  pid_t sub(const identity& who, const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a{"mosquitto_sub", "-h", "127.0.0.1", "-p", port_, "-q", "1", "-t", "#", "-v"};
    const auto l = who.login();
    a.insert(a.end(), l.begin(), l.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return start(a, out);
  }

  temp_dir dir_;
  acl acl_;
  std::unique_ptr<testing::mosquitto> broker_;
  std::string port_;
};

TEST_F(AclInterop, WriteDecisionsMatchMosquitto) {
  // admin listens to everything; it listens once a message of its own comes back.
  const identity admin{"admin", "admin-pub"};
  const auto out = dir_ / "admin.out";
  const pid_t listener = sub({"admin", "admin-sub"}, out, {});
  ASSERT_GT(listener, 0);
  for (int i = 0; i < 100 && slurp(out).find("zz/ready") == std::string::npos; ++i) {
    ASSERT_EQ(pub(admin, "zz/ready", "ready", false), 0);
    ::usleep(20'000);
  }
  ASSERT_NE(slurp(out).find("zz/ready"), std::string::npos) << slurp(out);
  // Each client publishes to each topic (QoS 1: done when mosquitto_pub exits).
  for (const auto& c : clients)
    for (const auto& t : topics) ASSERT_EQ(pub(c, t, "from " + c.name(), false), 0) << c.name() << " " << t;
  ASSERT_EQ(pub(admin, "zz/end", "end", false), 0);
  for (int i = 0; i < 500 && slurp(out).find("zz/end end") == std::string::npos; ++i) ::usleep(10'000);
  ::kill(listener, SIGTERM);
  finish(listener);
  const std::string got = slurp(out);
  ASSERT_NE(got.find("zz/end end"), std::string::npos) << got;
  int allowed = 0;
  for (const auto& c : clients)
    for (const auto& t : topics) {
      const bool delivered = got.find("\n" + t + " from " + c.name() + "\n") != std::string::npos;
      const bool tern = acl_.allowed(c.user, c.client_id, t, access::write);
      EXPECT_EQ(tern, delivered) << c.name() << " writes " << t;
      allowed += delivered;
    }
  EXPECT_GE(allowed, 6);  // the test sees both answers
}

TEST_F(AclInterop, ReadDecisionsMatchMosquitto) {
  const identity admin{"admin", "admin-pub"};
  for (const auto& t : topics) ASSERT_EQ(pub(admin, t, "kept", true), 0) << t;
  // Each client subscribes to '#': mosquitto checks read access per retained message.
  std::vector<std::pair<pid_t, std::string>> subs;
  for (const auto& c : clients) {
    const auto out = dir_ / (c.client_id + ".out");
    subs.emplace_back(sub(c, out, {"-W", "2"}), out);
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    EXPECT_EQ(finish(subs[i].first), 27) << "mosquitto_sub -W ends with 27";
    const std::string got = "\n" + slurp(subs[i].second);
    int allowed = 0;
    for (const auto& t : topics) {
      const bool delivered = got.find("\n" + t + " kept\n") != std::string::npos;
      const bool tern = acl_.allowed(clients[i].user, clients[i].client_id, t, access::read);
      EXPECT_EQ(tern, delivered) << clients[i].name() << " reads " << t << "; got:" << got;
      allowed += delivered;
    }
    EXPECT_GE(allowed, 1) << clients[i].name();
  }
}

}  // namespace
}  // namespace tern::auth
