#include "cli/flags.hpp"

namespace bootcfg {

std::string ParsedFlags::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& ParsedFlags::all(const std::string& name) const {
    static const std::vector<std::string> none;
    auto it = values_.find(name);
    return it == values_.end() ? none : it->second;
}

bool ParsedFlags::flag(const std::string& name, bool fallback) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    if (v == "true" || v == "1" || v == "yes") return true;
    if (v == "false" || v == "0" || v == "no") return false;
    throw UsageError{name + "=" + v + ": expected true or false"};
}

ParsedFlags parse_flags(const std::vector<std::string>& args, const std::vector<FlagSpec>& spec) {
    auto find = [&](const std::string& name) -> const FlagSpec* {
        for (const auto& f : spec)
            if (f.name == name || (!f.alias.empty() && f.alias == name)) return &f;
        return nullptr;
    };
    ParsedFlags out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--") {
            out.words.insert(out.words.end(), args.begin() + static_cast<long>(i) + 1, args.end());
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            out.words.push_back(arg);
            continue;
        }
        std::string name = arg, value;
        bool has_value = false;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            has_value = true;
        }
        const FlagSpec* f = find(name);
        if (!f && name.rfind("--", 0) != 0) f = find("-" + name);  // -name means --name
        if (!f) throw UsageError{"unknown flag " + name};
        if (f->takes_value && !has_value) {
            if (i + 1 >= args.size()) throw UsageError{name + " needs a value"};
            value = args[++i];
        } else if (!f->takes_value && !has_value) {
            value = "true";
        }
        out.add(f->name, value);
        if (!f->takes_value) (void)out.flag(f->name);  // reject --keep=maybe now
    }
    return out;
}

}  // namespace bootcfg
