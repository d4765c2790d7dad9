#include "model/model.hpp"

namespace bootcfg {

const std::string& template_id(const Profile& profile, TemplateKind kind) {
    switch (kind) {
        case TemplateKind::ignition:
            return profile.ignition_id;
        case TemplateKind::cloud:
            return profile.cloud_id;
        case TemplateKind::generic:
            return profile.generic_id;
    }
    return profile.cloud_id;
}

const char* template_dir(TemplateKind kind) {
    switch (kind) {
        case TemplateKind::ignition:
            return "ignition";
        case TemplateKind::cloud:
            return "cloud";
        case TemplateKind::generic:
            return "generic";
    }
    return "";
}

}  // namespace bootcfg
