// What tern::Broker enforces from its [auth] configuration (tern/server/auth.hpp).
#include "tern/server/auth.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

namespace tern::server {

job_pool::job_pool(std::size_t threads, std::size_t max_waiting) : max_waiting_(max_waiting) {
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) threads_.emplace_back([this] { run(); });
}

job_pool::~job_pool() { stop(); }

void job_pool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool job_pool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= max_waiting_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void job_pool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

namespace {
// CONNECTs whose passwords wait for the pool, at most; past it a CONNECT is
// refused with Server busy (5.0; 3 Server unavailable on 3.1.1).
constexpr std::size_t max_waiting_verifications = 4096;
}  // namespace

auth::file_result<std::shared_ptr<password_check>> password_check::load(const std::filesystem::path& path,
                                                                        std::size_t threads) {
  auto file = auth::password_file::load(path);
  if (!file) return file.error();
  return std::make_shared<password_check>(std::move(*file), threads);
}

password_check::password_check(auth::password_file file, std::size_t threads)
    : verifier_(std::move(file)), pool_(threads, max_waiting_verifications) {}

auth::file_result<void> password_check::reload(const std::filesystem::path& path) {
  auto file = auth::password_file::load(path);
  if (!file) return file.error();
  verifier_.replace(std::move(*file));
  return {};
}

bool password_check::verify(std::string user, std::string password, std::function<void(reason)> done) {
  return pool_.submit([this, user = std::move(user), password = std::move(password), done = std::move(done)]() mutable {
    const bool ok = verifier_.verify(user, password);
    OPENSSL_cleanse(password.data(), password.size());
    done(ok ? reason::success : reason::bad_user_name_or_password);
  });
}

std::optional<reason> listener_admission::check(const request& r, answer later) {
  if (r.identity_proven) return reason::success;  // the certificate named the user
  if (!r.username) return anonymous_ ? reason::success : reason::not_authorized;
  if (!passwords_) return reason::success;
  if (!r.password) return reason::bad_user_name_or_password;
  if (!passwords_->verify(*r.username, *r.password, std::move(later))) return reason::server_busy;
  return std::nullopt;
}

auth::file_result<std::unique_ptr<acl_policy>> acl_policy::load(const std::filesystem::path& path) {
  auto a = auth::acl::load(path);
  if (!a) return a.error();
  return std::make_unique<acl_policy>(std::move(*a));
}

bool acl_policy::allowed(const engine::client_info& c, std::string_view topic, engine::access what) const {
  return acl_.load(std::memory_order_acquire)->allowed(c.username, c.client_id, topic, what);
}

auth::file_result<void> acl_policy::reload(const std::filesystem::path& path) {
  auto a = auth::acl::load(path);
  if (!a) return a.error();
  acl_.store(std::make_shared<const auth::acl>(std::move(*a)), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

}  // namespace tern::server
