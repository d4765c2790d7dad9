// The protocols behind bmc::connect(), one .cpp file each.
#pragma once

#include <memory>
#include <string>

#include "bmc/bmc.hpp"

namespace bootcfg::bmc {

Result<std::unique_ptr<Bmc>> make_ipmi_bmc(const BmcAddress& address, const BmcSettings& settings,
                                           const std::string& password, const BmcOptions& options);
Result<std::unique_ptr<Bmc>> make_redfish_bmc(const BmcAddress& address,
                                              const BmcSettings& settings,
                                              const std::string& password,
                                              const BmcOptions& options);

}  // namespace bootcfg::bmc
