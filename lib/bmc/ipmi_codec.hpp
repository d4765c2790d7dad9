// The IPMI chassis commands a boot server needs, as bytes (IPMI v2.0 spec, chapter 28): built and
// read here, sent by ipmi_bmc.cpp through FreeIPMI's session layer. Pure, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bmc/bmc.hpp"
#include "result/result.hpp"

namespace bootcfg::bmc::ipmi {

inline constexpr std::uint8_t kNetFnChassis = 0x00;
inline constexpr std::uint8_t kGetChassisStatus = 0x01;
inline constexpr std::uint8_t kChassisControl = 0x02;
inline constexpr std::uint8_t kSetBootOptions = 0x08;
inline constexpr std::uint8_t kGetBootOptions = 0x09;

// Requests: the command byte, then its data.
std::vector<std::uint8_t> chassis_status_request();
// Only on, off, cycle, reset and soft have a chassis control code.
std::vector<std::uint8_t> chassis_control_request(PowerAction action);
// Boot info acknowledge (parameter 4), sent before the flags as ipmitool does: it tells the BMC
// that the flags are new, so it keeps them for the next boot.
std::vector<std::uint8_t> boot_info_ack_request();
// Boot flags (parameter 5). IPMI has no HTTP boot device: a failure naming it.
Result<std::vector<std::uint8_t>> boot_flags_request(const NextBoot& next);
std::vector<std::uint8_t> get_boot_flags_request();

// The completion code and data of a response (command byte, completion code, data), checked
// against the request's command. The failure says what the BMC answered, in words.
Result<std::span<const std::uint8_t>> response_data(std::span<const std::uint8_t> response,
                                                    std::uint8_t command);
// Get Chassis Status data → power on?
Result<bool> power_is_on(std::span<const std::uint8_t> data);
// Get System Boot Options (parameter 5) data → the override, nullopt when none is set.
Result<std::optional<NextBoot>> boot_flags(std::span<const std::uint8_t> data);

// "invalid data field in request (0xcc)".
std::string completion_code_text(std::uint8_t code);

// FreeIPMI's outofband 2.0 workaround flags for these names (ipmipower's -W names).
Result<unsigned> workaround_flags(const std::vector<std::string>& names);

}  // namespace bootcfg::bmc::ipmi
