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

// A group's metadata (a JSON object), kept as its compact text: a million groups' parsed objects
// cost ~250 bytes each in tree nodes, their text ~40. Parsed where a template or a lookup needs it.
class Metadata {
  public:
    Metadata() = default;
    explicit Metadata(const nlohmann::json& object);  // an object, or null for none
    nlohmann::json parsed() const;                    // an object, {} for none
    bool empty() const { return text_.empty(); }
    const std::string& text() const { return text_; }  // "" for none
    bool operator==(const Metadata&) const = default;

  private:
    std::string text_;
};

struct Group {
    std::string id;
    std::string name;
    std::string profile;
    Labels selector;    // AND of key=value; empty: default group
    Metadata metadata;  // decoded as Go would: numbers float64
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
