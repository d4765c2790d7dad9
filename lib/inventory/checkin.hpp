// Check-in URLs: per machine, signed (HMAC-SHA256 over id, state and expiry with a secret kept
// in the state dir) and expiring, so only the machine the URL was rendered for can report its
// state, and only until then.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result/result.hpp"

namespace bootcfg::inventory {

class CheckinSigner {
  public:
    static constexpr std::size_t kSecretSize = 32;
    // The secret in DIR/checkin.key (32 random bytes, mode 0600), made on first use.
    static Result<CheckinSigner> from_state_dir(const std::string& dir);
    // A new secret: kSecretSize random bytes.
    static Result<std::string> random_secret();
    explicit CheckinSigner(std::string secret) : secret_(std::move(secret)) {}

    // "id=..&state=..&expires=..&sig=.." for /checkin.
    std::string query(std::string_view id, std::string_view state, std::int64_t expires_s) const;
    // The signature matches and now_s is not past the expiry.
    bool verify(std::string_view id, std::string_view state, std::int64_t expires_s,
                std::string_view sig, std::int64_t now_s) const;

  private:
    std::string sign(std::string_view id, std::string_view state, std::int64_t expires_s) const;
    std::string secret_;
};

}  // namespace bootcfg::inventory
