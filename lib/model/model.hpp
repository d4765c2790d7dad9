// The data model every store backend produces: profiles say what to boot, groups say who gets it.
// It is matchbox's model; bootcfg's boot/ and cloud/ layout is expressed in it by the loader.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "labels/labels.hpp"

namespace bootcfg {

struct BootSpec {
    std::string kernel;
    std::vector<std::string> initrd;
    std::vector<std::string> args;  // kernel command line, in order
};

struct Profile {
    std::string id;
    std::string name;
    bool has_boot = false;
    BootSpec boot;
    std::string cloud_id;     // name of a cloud-config template; empty: none
    std::string ignition_id;  // name of an Ignition config or template
    std::string generic_id;   // name of a generic template
    std::string source;       // file it came from, for logs
};

struct Group {
    std::string id;
    std::string name;
    std::string profile;
    Labels selector;                                     // AND of key=value; empty: default group
    nlohmann::json metadata = nlohmann::json::object();  // decoded as Go would: numbers float64
    // Groups synthesized from the bootcfg layout answer per part: a machine whose mac/ file has a
    // boot config but no cloud-config falls through to the next group for /cloud.
    bool falls_through = false;
    std::string source;
};

enum class TemplateKind { ignition, cloud, generic };

const char* template_dir(TemplateKind kind);  // "ignition", "cloud", "generic"

// The profile's template name of that kind (ignition_id, cloud_id or generic_id); empty: none.
const std::string& template_id(const Profile& profile, TemplateKind kind);

}  // namespace bootcfg
