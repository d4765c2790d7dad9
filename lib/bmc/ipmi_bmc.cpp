// IPMI v2.0 over LAN (lanplus) through FreeIPMI's library: it does the RMCP+ session (RAKP,
// integrity, confidentiality) and retransmissions; the commands are built by ipmi_codec.hpp and
// sent raw. One session per call: a BMC allows few at once, and a kept one would time out.
#include <freeipmi/freeipmi.h>

#include <algorithm>
#include <array>
#include <memory>

#include "bmc/bmc.hpp"
#include "bmc/ipmi_codec.hpp"
#include "bmc/protocols.hpp"

namespace bootcfg::bmc {

namespace {

// FreeIPMI's IPMI 2.0 limits (IPMI_2_0_MAX_PASSWORD_LENGTH, IPMI_MAX_USER_NAME_LENGTH).
constexpr std::size_t kMaxIpmiPassword = 20, kMaxIpmiUser = 16;

struct ContextDeleter {
    void operator()(ipmi_ctx* ctx) const {
        ipmi_ctx_close(ctx);
        ipmi_ctx_destroy(ctx);
    }
};
using Context = std::unique_ptr<ipmi_ctx, ContextDeleter>;

class IpmiBmc final : public Bmc {
  public:
    IpmiBmc(const BmcAddress& address, const BmcSettings& settings, std::string password,
            unsigned workarounds, const BmcOptions& options)
        : where_("ipmi://" +
                 (address.host.find(':') != std::string::npos ? "[" + address.host + "]"
                                                              : address.host) +
                 ":" + std::to_string(address.port)),
          // FreeIPMI takes "host:port" (IPv6: "[addr]:port").
          target_(where_.substr(7)),
          user_(settings.user),
          password_(std::move(password)),
          cipher_suite_(static_cast<std::uint8_t>(settings.cipher_suite)),
          workarounds_(workarounds),
          options_(options) {}

    std::string where() const override { return where_; }

    Result<bool> powered_on() override {
        auto data = call(ipmi::chassis_status_request());
        if (!data) return data.failure();
        auto on = ipmi::power_is_on(*data);
        if (!on) return failed(on.failure().reason);
        return *on;
    }

    Result<void> power(PowerAction action) override {
        if (action == PowerAction::cycle) {
            // IPMI's power cycle does nothing to a machine that is off (spec 28.3).
            auto on = powered_on();
            if (!on) return on.failure();
            if (!*on) action = PowerAction::on;
        }
        auto data = call(ipmi::chassis_control_request(action));
        if (!data) return data.failure();
        return {};
    }

    Result<void> set_next_boot(const NextBoot& next) override {
        auto flags = ipmi::boot_flags_request(next);
        if (!flags) return fail(where_ + ": " + flags.failure().reason, flags.failure().field);
        auto ack = call(ipmi::boot_info_ack_request());
        // Boot info acknowledge is optional in the spec: a BMC without it still takes the flags.
        if (!ack && ack.failure().reason.find("(0x80)") == std::string::npos &&
            ack.failure().reason.find("(0xcc)") == std::string::npos)
            return ack.failure();
        auto set = call(*flags);
        if (!set) return set.failure();
        return {};
    }

    Result<std::optional<NextBoot>> next_boot() override {
        auto data = call(ipmi::get_boot_flags_request());
        if (!data) return data.failure();
        auto next = ipmi::boot_flags(*data);
        if (!next) return failed(next.failure().reason);
        return *next;
    }

  private:
    Failure failed(const std::string& what) const { return fail(where_ + ": " + what); }

    // A session, opened with up to `attempts` tries while the BMC does not answer in time.
    Result<Context> open() {
        std::string last;
        for (int attempt = 0; attempt < std::max(1, options_.attempts); ++attempt) {
            Context ctx(ipmi_ctx_create());
            if (!ctx) return failed("out of memory for an IPMI context");
            const auto timeout = static_cast<unsigned>(options_.timeout.count());
            const int rc = ipmi_ctx_open_outofband_2_0(
                ctx.get(), target_.c_str(), user_.empty() ? nullptr : user_.c_str(),
                password_.empty() ? nullptr : password_.c_str(), nullptr, 0,
                IPMI_PRIVILEGE_LEVEL_ADMIN, cipher_suite_, timeout, std::max(100u, timeout / 5),
                workarounds_, IPMI_FLAGS_DEFAULT);
            if (rc == 0) return ctx;
            const int err = ipmi_ctx_errnum(ctx.get());
            last = ipmi_ctx_errormsg(ctx.get());
            if (err == IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED)
                last += " (some BMCs need a workaround: ipmi_workarounds opensesspriv or sun20)";
            if (err != IPMI_ERR_SESSION_TIMEOUT && err != IPMI_ERR_CONNECTION_TIMEOUT) break;
            last = "no answer within " + std::to_string(options_.timeout.count()) + " ms (" +
                   std::to_string(attempt + 1) + " tries)";
        }
        return failed(last);
    }

    // Sends one chassis command; its response data, or a failure naming the BMC.
    Result<std::vector<std::uint8_t>> call(const std::vector<std::uint8_t>& request) {
        auto ctx = open();
        if (!ctx) return ctx.failure();
        std::array<std::uint8_t, 256> response{};
        const int n = ipmi_cmd_raw(ctx->get(), IPMI_BMC_IPMB_LUN_BMC, ipmi::kNetFnChassis,
                                   request.data(), static_cast<unsigned>(request.size()),
                                   response.data(), static_cast<unsigned>(response.size()));
        if (n < 0) return failed(ipmi_ctx_errormsg(ctx->get()));
        auto data = ipmi::response_data(std::span(response.data(), static_cast<std::size_t>(n)),
                                        request[0]);
        if (!data) return failed(data.failure().reason);
        return std::vector<std::uint8_t>(data->begin(), data->end());
    }

    std::string where_, target_, user_, password_;
    std::uint8_t cipher_suite_;
    unsigned workarounds_;
    BmcOptions options_;
};

}  // namespace

Result<std::unique_ptr<Bmc>> make_ipmi_bmc(const BmcAddress& address, const BmcSettings& settings,
                                           const std::string& password, const BmcOptions& options) {
    if (settings.user.size() > kMaxIpmiUser)
        return fail("an IPMI user name has at most " + std::to_string(kMaxIpmiUser) + " bytes",
                    "user");
    if (password.size() > kMaxIpmiPassword)
        return fail(
            "an IPMI 2.0 password has at most " + std::to_string(kMaxIpmiPassword) + " bytes",
            "password");
    auto flags = ipmi::workaround_flags(settings.ipmi_workarounds);
    if (!flags) return flags.failure();
    return std::unique_ptr<Bmc>(new IpmiBmc(address, settings, password, *flags, options));
}

}  // namespace bootcfg::bmc
