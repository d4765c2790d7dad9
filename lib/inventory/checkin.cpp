#include "inventory/checkin.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "files/unique_fd.hpp"
#include "labels/labels.hpp"

namespace bootcfg::inventory {

namespace {

std::string hex(const unsigned char* bytes, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

}  // namespace

Result<std::string> CheckinSigner::random_secret() {
    std::string secret(kSecretSize, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), kSecretSize) != 1)
        return fail("cannot make a check-in key: no randomness");
    return secret;
}

Result<CheckinSigner> CheckinSigner::from_state_dir(const std::string& dir) {
    const std::string path = dir + "/checkin.key";
    std::string secret(kSecretSize, '\0');
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd) {
        const ssize_t n = ::read(fd.get(), secret.data(), secret.size());
        if (n != static_cast<ssize_t>(kSecretSize))
            return fail(path + ": not a check-in key (" + std::to_string(kSecretSize) +
                        " bytes); remove it to make a new one (outstanding check-in URLs stop "
                        "working)");
        return CheckinSigner(std::move(secret));
    }
    if (errno != ENOENT) return fail(path + ": " + std::strerror(errno));
    auto made = random_secret();
    if (!made) return made.failure();
    secret = std::move(*made);
    const std::string tmp = path + ".new";
    UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out ||
        ::write(out.get(), secret.data(), secret.size()) != static_cast<ssize_t>(kSecretSize) ||
        ::fsync(out.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(path + ": cannot write it: " + std::strerror(errno));
    return CheckinSigner(std::move(secret));
}

std::string CheckinSigner::sign(std::string_view id, std::string_view state,
                                std::int64_t expires_s) const {
    const std::string message =
        std::string(id) + "\n" + std::string(state) + "\n" + std::to_string(expires_s);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
    return hex(mac, length);
}

std::string CheckinSigner::query(std::string_view id, std::string_view state,
                                 std::int64_t expires_s) const {
    return "id=" + percent_encode(id) + "&state=" + percent_encode(state) +
           "&expires=" + std::to_string(expires_s) + "&sig=" + sign(id, state, expires_s);
}

bool CheckinSigner::verify(std::string_view id, std::string_view state, std::int64_t expires_s,
                           std::string_view sig, std::int64_t now_s) const {
    if (now_s > expires_s) return false;
    const std::string want = sign(id, state, expires_s);
    return sig.size() == want.size() && CRYPTO_memcmp(sig.data(), want.data(), want.size()) == 0;
}

}  // namespace bootcfg::inventory
