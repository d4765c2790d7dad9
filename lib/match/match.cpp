#include "match/match.hpp"

namespace bootcfg {

namespace {

bool has_part(const Profile& p, Part part) {
    switch (part) {
        case Part::boot:
            return p.has_boot;
        case Part::cloud:
            return !template_id(p, TemplateKind::cloud).empty();
        case Part::ignition:
            return !template_id(p, TemplateKind::ignition).empty();
        case Part::generic:
            return !template_id(p, TemplateKind::generic).empty();

        case Part::group:
            return true;
    }
    return false;
}

const char* part_name(Part part) {
    switch (part) {
        case Part::boot:
            return "boot config";
        case Part::cloud:
            return "cloud-config";
        case Part::ignition:
            return "Ignition config";
        case Part::generic:
            return "generic config";
        case Part::group:
            return "group";
    }
    return "";
}

std::string describe(const Labels& labels) {
    return labels.empty() ? "no labels" : "labels " + labels.to_string();
}

}  // namespace

Part template_part(TemplateKind kind) {
    switch (kind) {
        case TemplateKind::ignition:
            return Part::ignition;
        case TemplateKind::cloud:
            return Part::cloud;
        case TemplateKind::generic:
            return Part::generic;
    }
    return Part::cloud;
}

Selection select(const Snapshot& snapshot, const Labels& labels, Part part) {
    Selection result;
    snapshot.index().visit(labels, [&](const Group& group) {
        if (part == Part::group) {
            result.group = &group;
            return true;
        }
        const Profile* profile = snapshot.profile(group.profile);
        if (profile && has_part(*profile, part)) {
            result.group = &group;
            result.profile = profile;
            return true;
        }
        if (group.falls_through) return false;
        result.group = &group;
        result.reason =
            profile ? "profile '" + group.profile + "' of group '" + group.id + "' has no " +
                          part_name(part)
                    : "group '" + group.id + "' names missing profile '" + group.profile + "'";
        return true;
    });
    if (part == Part::group) {
        if (!result.group) result.reason = "no group matches " + describe(labels);
        return result;
    }
    if (!result.profile && result.reason.empty())
        result.reason = std::string("no ") + part_name(part) + " matches " + describe(labels);
    return result;
}

std::optional<std::string> boot_file_override(const Snapshot& snapshot, const Labels& labels,
                                              std::string_view key) {
    const auto selection = select(snapshot, labels, Part::group);
    if (!selection.group) return std::nullopt;
    const auto metadata = selection.group->metadata.parsed();
    const auto it = metadata.find(key);
    if (it == metadata.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

}  // namespace bootcfg
