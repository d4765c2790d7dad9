// Data-file parsers: text -> model, or a failure naming the line and the reason. Pure; shared by
// the directory loader and anything else that accepts these documents.
#pragma once

#include <optional>
#include <string>

#include "model/model.hpp"

namespace bootcfg {

struct Failure {
    int line = 0;  // 1-based line of a JSON syntax error, 0 if not about one line
    std::string reason;
};

// bootcfg v0.1 boot config: {"kernel", "initrd": [...], "cmdline": {...}}.
std::optional<BootSpec> parse_layout_boot(const std::string& text, Failure& failure);
// matchbox profile: {"id", "name", "boot": {...}, "ignition_id", "cloud_id", "generic_id"}.
std::optional<Profile> parse_profile(const std::string& text, Failure& failure);
// matchbox group: {"id", "name", "profile", "selector": {...}, "metadata": {...}}.
std::optional<Group> parse_group(const std::string& text, Failure& failure);
// JSON text -> document, or a failure with the line of the syntax error.
std::optional<nlohmann::json> parse_json(const std::string& text, Failure& failure);

}  // namespace bootcfg
