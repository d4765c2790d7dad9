// Data-file parsers: text -> model, or the Failure naming the field, line and reason. Pure; shared
// by the directory loader and anything else that accepts these documents.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model/model.hpp"
#include "result/result.hpp"
#include "store/store.hpp"

namespace bootcfg {

// The 1-based line where the key of `field` ("boot.initrd": the key "initrd") first appears as
// a JSON key in `text`, 0 when it does not; so a problem about a field points at its line.
int line_of_field(const std::string& text, const std::string& field);

// parse(text), with a failure about a field pointing at that field's line.
template <class Parse>
auto parse_with_field_line(const std::string& text, Parse parse) -> decltype(parse(text)) {
    auto item = parse(text);
    if (item || item.failure().line != 0 || item.failure().field.empty()) return item;
    Failure failure = item.failure();
    failure.line = line_of_field(text, failure.field);
    return failure;
}

// bootcfg v0.1 boot config: {"kernel", "initrd": [...], "cmdline": {...}}.
Result<BootSpec> parse_layout_boot(const std::string& text);
// matchbox profile: {"id", "name", "boot": {...}, "ignition_id", "cloud_id", "generic_id"}.
Result<Profile> parse_profile(const std::string& text);
// matchbox group: {"id", "name", "profile", "selector": {...}, "metadata": {...}}.
Result<Group> parse_group(const std::string& text);
// A config of ignition/, cloud/ or generic/: a template parsed now, or for *.ign / *.ignition
// Ignition JSON checked now and served as stored. source is left to the caller.
Result<TemplateEntry> parse_template_entry(TemplateKind kind, const std::string& name,
                                           std::string text);
// One machine of the bootcfg layout (boot/<key> and/or cloud/<key>; key "default", "mac/<MAC>"
// or "uuid/<UUID>"), as the profile "bootcfg:<key>" and a group selecting it that falls through
// per part, added to `out`. Nothing when it has neither part.
struct LayoutMachine {
    Labels selector;
    std::optional<BootSpec> boot;
    std::string boot_source;
    std::string cloud_name;  // the cloud template's name (the key), when it has one
    std::string cloud_source;
};
void add_layout_machine(const std::string& key, LayoutMachine machine, StoreContents& out);

// Ignition files named *.ign or *.ignition are JSON served as stored, not templates.
bool is_raw_ignition(const std::string& name);

// Names a data dir never loads: editors and atomic writers leave dotfiles and backups (name~)
// beside real configs.
bool hidden_name(std::string_view name);

// JSON text -> document, or a failure with the line of the syntax error.
Result<nlohmann::json> parse_json(const std::string& text);

}  // namespace bootcfg
