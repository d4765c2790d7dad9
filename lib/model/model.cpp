#include "model/model.hpp"

namespace bootcfg {

Metadata::Metadata(const nlohmann::json& object) {
    if (object.is_object() && !object.empty())
        text_ = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json Metadata::parsed() const {
    return text_.empty() ? nlohmann::json::object() : nlohmann::json::parse(text_);
}

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
