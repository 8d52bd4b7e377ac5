// tern/server/auth.hpp: what tern::Broker enforces from its [auth]
// configuration: the password file, checked off the io threads by a small
// pool; anonymous clients per listener; the ACL file as the engine's access
// policy. Both files are re-read by reload() (ternd: SIGHUP).
//
//   auto passwords = tern::server::password_check::load("/etc/ternd/passwd", /*threads=*/1);
//   if (!passwords) log(passwords.error().message);      // "passwd:3: ..."
//   gate->admission = std::make_shared<tern::server::listener_admission>(*passwords, /*anonymous=*/false);
//   auto acl = tern::server::acl_policy::load("/etc/ternd/acl");
//   engine_options.access = acl->get();
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tern/auth/acl.hpp"
#include "tern/auth/verifier.hpp"
#include "tern/engine/access.hpp"
#include "tern/net/admission.hpp"

namespace tern::server {

// A few threads that run jobs given to them, at most `max_waiting` queued:
// password hashes, so that a storm of CONNECTs costs the io threads nothing.
class job_pool {
 public:
  job_pool(std::size_t threads, std::size_t max_waiting);
  // Joins the threads; jobs still queued are dropped unrun.
  ~job_pool();
  job_pool(const job_pool&) = delete;
  job_pool& operator=(const job_pool&) = delete;

  // False when `max_waiting` jobs wait already, or stopped (the job is not taken).
  [[nodiscard]] bool submit(std::function<void()> job);
  // Joins the threads (after the job each runs); queued jobs are dropped. Idempotent.
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  const std::size_t max_waiting_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// The password file in force, its verifier (which remembers recent
// successes) and the pool that runs it.
class password_check {
 public:
  // Refused naming the file and line of every problem.
  [[nodiscard]] static auth::file_result<std::shared_ptr<password_check>> load(const std::filesystem::path& path,
                                                                             std::size_t threads = 1);
  password_check(auth::password_file file, std::size_t threads);

  // Re-reads `path`; on failure the file in force stays.
  [[nodiscard]] auth::file_result<void> reload(const std::filesystem::path& path);
  // Checks `user` and `password` on the pool and calls `done` there with
  // success or bad_user_name_or_password; false when the pool is full.
  [[nodiscard]] bool verify(std::string user, std::string password, std::function<void(reason)> done);
  auth::verifier::counters stats() const { return verifier_.stats(); }
  // No more verification: the pool's threads are joined (the broker calls
  // it once its io threads are stopped, before the runtime goes).
  void stop() { pool_.stop(); }

 private:
  auth::verifier verifier_;
  job_pool pool_;  // last: joined before the verifier goes
};

// One listener's check of a CONNECT (net::admission): anonymous clients in
// or out, user names and passwords against the password file if there is
// one (without one, any user name is let in, as mosquitto does).
class listener_admission final : public net::admission {
 public:
  listener_admission(std::shared_ptr<password_check> passwords, bool allow_anonymous)
      : passwords_(std::move(passwords)), anonymous_(allow_anonymous) {}
  std::optional<reason> check(const request& r, answer later) override;

 private:
  std::shared_ptr<password_check> passwords_;  // nullptr: no password file
  bool anonymous_;
};

// The ACL file in force as the engine's access policy.
class acl_policy final : public engine::access_policy {
 public:
  [[nodiscard]] static auth::file_result<std::unique_ptr<acl_policy>> load(const std::filesystem::path& path);
  explicit acl_policy(auth::acl acl) : acl_(std::make_shared<const auth::acl>(std::move(acl))) {}

  bool allowed(const engine::client_info& c, std::string_view topic, engine::access what) const override;
  std::uint64_t generation() const override { return generation_.load(std::memory_order_acquire); }
  // Re-reads `path`; on failure the ACL in force stays. On success every
  // client's remembered decisions are dropped (generation()).
  [[nodiscard]] auth::file_result<void> reload(const std::filesystem::path& path);

 private:
  std::atomic<std::shared_ptr<const auth::acl>> acl_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace tern::server
