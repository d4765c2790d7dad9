#include "cli/flags.hpp"

#include "values/values.hpp"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

#include "files/atomic_file.hpp"

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
    if (auto b = parse_bool(v)) return *b;
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

// "NAME TOKEN" (the server's token file line) or just "TOKEN".
std::string password_from_file(const std::string& flag, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        throw UsageError{flag + " " + path + ": not a readable file"};
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw UsageError{flag + " " + path + ": others may read it (mode " + mode +
                         "); chmod 600 " + path};
    }
    std::string text;
    if (!read_whole(path, text)) throw UsageError{flag + " " + path + ": cannot read it"};
    text = text.substr(0, text.find('\n'));
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) throw UsageError{flag + " " + path + ": its first line is empty"};
    return text;
}

BmcFlags BmcFlags::from(const ParsedFlags& f) {
    return {f.get("--bmc"),           f.get("--user"),
            f.get("--password-file"), f.get("--ipmi-workarounds"),
            f.get("--cipher-suite"),  f.get("--bmc-ca-file"),
            f.flag("--insecure")};
}

bool BmcFlags::any() const {
    return !url.empty() || !user.empty() || !password_file.empty() || !ipmi_workarounds.empty() ||
           !cipher_suite.empty() || !ca_file.empty() || insecure;
}

std::string BmcFlags::body() const {
    nlohmann::json body{{"url", url}, {"user", user}};
    if (!password_file.empty())
        body["password"] = password_from_file("--password-file", password_file);
    if (!ipmi_workarounds.empty()) {
        nlohmann::json names = nlohmann::json::array();
        std::stringstream list(ipmi_workarounds);
        for (std::string name; std::getline(list, name, ',');)
            if (!name.empty()) names.push_back(name);
        body["ipmi_workarounds"] = names;
    }
    if (!cipher_suite.empty()) {
        int suite = -1;
        auto [end, ec] =
            std::from_chars(cipher_suite.data(), cipher_suite.data() + cipher_suite.size(), suite);
        if (ec != std::errc{} || end != cipher_suite.data() + cipher_suite.size())
            throw UsageError{"--cipher-suite " + cipher_suite + ": not a number"};
        body["cipher_suite"] = suite;
    }
    if (!ca_file.empty()) body["ca_file"] = ca_file;
    if (insecure) body["insecure"] = true;
    return body.dump();
}

std::string token_from_file(const std::string& path) {
    std::string text;
    if (!read_whole(path, text)) throw UsageError{"--token-file " + path + ": cannot read it"};
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string w; fields >> w;) f.push_back(w);
        if (f.empty() || f[0][0] == '#') continue;
        return f.back();
    }
    throw UsageError{"--token-file " + path + ": no token in it"};
}

// A plain table: columns as wide as their widest cell.
void move_global_flags(std::vector<std::string>& args) {
    static const char* const globals[] = {
        "--endpoint", "--ca-file", "--cert-file", "--key-file", "--token-file", "-o",
        "--output",   "-endpoint", "-ca-file",    "-cert-file", "-key-file",    "-token-file"};
    auto global = [](const std::string& a) {
        const std::string name = a.substr(0, a.find('='));
        for (const char* g : globals)
            if (name == g) return true;
        return false;
    };
    std::vector<std::string> moved;
    std::size_t i = 0;
    while (i < args.size() && global(args[i])) {
        moved.push_back(args[i]);
        if (args[i].find('=') == std::string::npos && i + 1 < args.size())
            moved.push_back(args[++i]);
        ++i;
    }
    if (moved.empty()) return;
    args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(i));
    // Before a "--", so they stay flags.
    auto end = std::find(args.begin(), args.end(), "--");
    args.insert(end, moved.begin(), moved.end());
}

void print_table(std::FILE* out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i)
            line += i + 1 == r.size() ? r[i] : r[i] + std::string(width[i] - r[i].size() + 2, ' ');
        std::fprintf(out, "%s\n", line.c_str());
    }
}

}  // namespace bootcfg
