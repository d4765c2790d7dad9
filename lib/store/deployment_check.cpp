// What `bootcfgd -validate` adds to the loader's problems: the lines of fields at fault, and data
// that loads but would fail at boot.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "files/atomic_file.hpp"
#include "store/data_files.hpp"
#include "store/store.hpp"

namespace bootcfg {

namespace {

// The file under the assets root that an /assets/... or /images/... URL names, or "".
std::string asset_file(const std::string& url, const std::string& assets_root) {
    for (const char* prefix : {"/assets/", "/images/"}) {
        const std::string p = prefix;
        if (url.starts_with(p)) {
            std::string rest = url.substr(p.size(), url.find_first_of("?#") - p.size());
            return rest.empty() ? "" : assets_root + "/" + rest;
        }
    }
    return "";
}

bool starts_with_line(const std::string& text, const std::string& key) {
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        if (text.compare(at, key.size(), key) == 0) return true;
        at = end + 1;
    }
    return false;
}

std::string lowered(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

}  // namespace

std::vector<LoadProblem> with_field_lines(std::vector<LoadProblem> problems,
                                          const StoreSource& source) {
    std::map<std::string, std::string> texts;  // each location read once
    for (auto& p : problems) {
        if (p.line != 0 || p.field.empty()) continue;
        auto [it, fresh] = texts.try_emplace(p.path);
        if (fresh) it->second = source.read(p.path).value_or("");
        p.line = line_of_field(it->second, p.field);
    }
    return problems;
}

std::vector<LoadProblem> deployment_warnings(const Snapshot& snapshot,
                                             const std::string& assets_root) {
    std::vector<LoadProblem> out;
    if (!assets_root.empty()) {
        for (const Profile* p : snapshot.profiles()) {
            std::vector<std::pair<std::string, std::string>> files = {{"kernel", p->boot.kernel}};
            for (const auto& initrd : p->boot.initrd)  // the URL is the last word (after --name N)
                files.emplace_back("initrd", initrd.substr(initrd.rfind(' ') + 1));
            for (const auto& [what, url] : files) {
                const std::string file = asset_file(url, assets_root);
                struct stat st {};
                if (!file.empty() && (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)))
                    out.push_back({p->source, 0,
                                   "warning: " + what + " " + url + " is not in the assets dir (" +
                                       file + "): machines would get a 404",
                                   "boot." + what});
            }
        }
    }
    // A template reading a key its group does not provide fails for every machine of that group
    // (missingkey=error): the template data is the group's metadata, its selector and "request".
    std::map<const Template*, std::vector<std::string>> keys_of;
    for (const Group* g : snapshot.groups()) {
        const Profile* p = g->falls_through ? nullptr : snapshot.profile(g->profile);
        if (!p) continue;
        for (auto kind : {TemplateKind::ignition, TemplateKind::cloud, TemplateKind::generic}) {
            const std::string& name = template_id(*p, kind);
            const TemplateEntry* t = name.empty() ? nullptr : snapshot.template_entry(kind, name);
            if (!t || !t->parsed) continue;
            auto [it, fresh] = keys_of.try_emplace(t->parsed.get());
            if (fresh) it->second = t->parsed->root_keys();
            const auto metadata = g->metadata.parsed();
            for (const auto& key : it->second) {
                const bool provided =
                    key == "request" || metadata.contains(key) ||
                    std::any_of(g->selector.entries().begin(), g->selector.entries().end(),
                                [&](const auto& e) { return lowered(e.first) == key; });
                if (!provided)
                    out.push_back({g->source, 0,
                                   "warning: " + std::string(template_dir(kind)) + " template '" +
                                       name + "' of profile '" + p->id + "' reads ." + key +
                                       ", which group '" + g->id +
                                       "' provides in neither its metadata nor its selector: "
                                       "its machines would get an error",
                                   "metadata"});
            }
        }
    }
    // Ignition clients read JSON: a Butane config or a Container Linux Config left in ignition/
    // is served as text they cannot use.
    for (const TemplateEntry* t : snapshot.templates(TemplateKind::ignition)) {
        const auto start = t->text.find_first_not_of(" \t\r\n");
        if (start == std::string::npos || t->text[start] == '{') continue;
        if (starts_with_line(t->text, "variant:"))
            out.push_back({t->source, 0,
                           "warning: a Butane config, not Ignition JSON: transpile it with "
                           "Butane (butane --strict " +
                               t->name + " > " + t->name + ".ign) and reference the .ign",
                           ""});
        else if (starts_with_line(t->text, "passwd:") || starts_with_line(t->text, "storage:") ||
                 starts_with_line(t->text, "systemd:") || starts_with_line(t->text, "ignition:"))
            out.push_back({t->source, 0,
                           "warning: a Container Linux Config (YAML), not Ignition JSON: "
                           "transpile it with ct (or rewrite it as Butane and use butane "
                           "--strict) into a .ign file, and reference that",
                           ""});
    }
    return out;
}

Validation validate_store(const StoreSource& source, const std::string& assets_root) {
    const Snapshot snapshot(source.load(nullptr));
    Validation v;
    for (const auto& p : with_field_lines(snapshot.problems(), source))
        v.lines.push_back(p.to_string());
    for (const auto& w : deployment_warnings(snapshot, assets_root))
        v.lines.push_back(w.to_string());
    v.lines.push_back(source.describe() + ": " + snapshot.counts());
    v.passed = snapshot.problems().empty();
    return v;
}

}  // namespace bootcfg
