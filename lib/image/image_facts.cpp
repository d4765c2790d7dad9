// bootcfg image compare and the facts it reads from a rootfs image.tar.gz.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "image/archive_io.hpp"
#include "image/image.hpp"
#include "image/image_paths.hpp"

namespace bootcfg {

namespace {

constexpr std::size_t kMaxStatus = 64u << 20;

std::string human(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

}  // namespace

bool version_less(const std::string& a, const std::string& b) {
    // Alternating runs: digits compare as numbers, everything else character by character
    // with '~' before anything (even the end), like dpkg and `sort -V`.
    auto order = [](char c) -> int {
        if (c == '~') return -1;
        if (std::isalpha(static_cast<unsigned char>(c))) return c;
        return c + 256;
    };
    std::size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        while ((i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i]))) ||
               (j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j])))) {
            const int x =
                i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i])) ? order(a[i]) : 0;
            const int y =
                j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j])) ? order(b[j]) : 0;
            if (x != y) return x < y;
            if (i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i]))) ++i;
            if (j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j]))) ++j;
        }
        while (i < a.size() && a[i] == '0') ++i;
        while (j < b.size() && b[j] == '0') ++j;
        std::size_t di = i, dj = j;
        while (di < a.size() && std::isdigit(static_cast<unsigned char>(a[di]))) ++di;
        while (dj < b.size() && std::isdigit(static_cast<unsigned char>(b[dj]))) ++dj;
        if (di - i != dj - j) return di - i < dj - j;
        const int c = a.compare(i, di - i, b, j, dj - j);
        if (c != 0) return c < 0;
        i = di;
        j = dj;
    }
    return false;
}

std::map<std::string, std::string> parse_dpkg_status(const std::string& text) {
    struct Package {
        std::string name, version, arch, status;
    };
    std::vector<Package> packages;
    Package current;
    auto flush = [&] {
        if (!current.name.empty() && current.status == "install ok installed")
            packages.push_back(current);
        current = Package{};
    };
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
            flush();
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') continue;  // continuation of a long field
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string field = line.substr(0, colon);
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
        if (field == "Package")
            current.name = value;
        else if (field == "Version")
            current.version = value;
        else if (field == "Architecture")
            current.arch = value;
        else if (field == "Status")
            current.status = value;
    }
    flush();
    std::map<std::string, std::size_t> arch_count;
    for (const auto& p : packages)
        if (p.arch != "all") ++arch_count[p.arch];
    std::string native;
    std::size_t best = 0;
    for (const auto& [arch, n] : arch_count)
        if (n > best) best = n, native = arch;
    std::map<std::string, std::string> out;
    for (const auto& p : packages) {
        const bool foreign = p.arch != "all" && !p.arch.empty() && p.arch != native;
        out[foreign ? p.name + ":" + p.arch : p.name] = p.version;
    }
    return out;
}

ImageFacts read_image_facts(const std::string& image, Progress& progress) {
    ImageFacts facts;
    struct stat st {};
    if (::stat(image.c_str(), &st) != 0) throw ImageError(image + ": " + std::strerror(errno));
    facts.archive_bytes = static_cast<std::uint64_t>(st.st_size);
    archive_io::Reader r = archive_io::Reader::from_file(image);
    std::string status;
    while (archive_entry* e = r.next()) {
        const std::string path = archive_io::clean_member_path(archive_entry_pathname(e), image);
        if (path.empty()) continue;
        if (archive_entry_filetype(e) == AE_IFDIR) {
            ++facts.directories;
            continue;
        }
        ++facts.files;
        if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
            facts.filesystem_bytes += static_cast<std::uint64_t>(archive_entry_size(e));
        if (auto v = image_paths::kernel_version(path)) facts.kernels.push_back(*v);
        if (path == "var/lib/dpkg/status" && archive_entry_filetype(e) == AE_IFREG) {
            facts.has_dpkg = true;
            status.clear();
            char buf[65536];
            while (const std::size_t n = r.read(buf, sizeof buf)) {
                status.append(buf, n);
                if (status.size() > kMaxStatus) r.fail("var/lib/dpkg/status is larger than 64 MiB");
            }
        }
        if (facts.files % 4096 == 0)
            progress.show("compare: " + image + ": " + std::to_string(facts.files) + " files");
    }
    progress.clear();
    std::sort(facts.kernels.begin(), facts.kernels.end(), version_less);
    facts.kernels.erase(std::unique(facts.kernels.begin(), facts.kernels.end()),
                        facts.kernels.end());
    if (facts.has_dpkg) facts.packages = parse_dpkg_status(status);
    return facts;
}

ImageComparison compare_images(ImageFacts old_image, ImageFacts new_image) {
    ImageComparison c;
    for (const auto& [name, version] : new_image.packages) {
        auto it = old_image.packages.find(name);
        if (it == old_image.packages.end())
            c.added.emplace_back(name, version);
        else if (it->second != version)
            c.updated.push_back({name, it->second, version});
    }
    for (const auto& [name, version] : old_image.packages)
        if (!new_image.packages.count(name)) c.removed.emplace_back(name, version);
    c.old_image = std::move(old_image);
    c.new_image = std::move(new_image);
    return c;
}

std::string comparison_text(const ImageComparison& c) {
    std::ostringstream o;
    auto pair = [&](const char* title, const std::string& old_value, const std::string& new_value) {
        o << title << "\n  old: " << old_value << "\n  new: " << new_value << "\n";
    };
    auto bytes = [](std::uint64_t n) { return std::to_string(n) + " bytes (" + human(n) + ")"; };
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
        return s.empty() ? std::string("none") : s;
    };
    pair("Image size", bytes(c.old_image.archive_bytes), bytes(c.new_image.archive_bytes));
    pair("Filesystem size", bytes(c.old_image.filesystem_bytes),
         bytes(c.new_image.filesystem_bytes));
    pair("Files", std::to_string(c.old_image.files), std::to_string(c.new_image.files));
    pair("Kernels", join(c.old_image.kernels), join(c.new_image.kernels));
    if (!c.old_image.has_dpkg && !c.new_image.has_dpkg) {
        o << "Packages: neither image has var/lib/dpkg/status\n";
        return o.str();
    }
    auto count = [](const ImageFacts& f) {
        return f.has_dpkg ? std::to_string(f.packages.size()) : std::string("no dpkg status");
    };
    pair("Packages", count(c.old_image), count(c.new_image));
    o << "New packages: " << c.added.size() << "\n";
    for (const auto& [n, v] : c.added) o << "  " << n << " " << v << "\n";
    o << "Removed packages: " << c.removed.size() << "\n";
    for (const auto& [n, v] : c.removed) o << "  " << n << " " << v << "\n";
    o << "Updated packages: " << c.updated.size() << "\n";
    for (const auto& u : c.updated)
        o << "  " << u.name << " " << u.old_version << " -> " << u.new_version << "\n";
    return o.str();
}

std::string comparison_json(const ImageComparison& c) {
    using nlohmann::json;
    auto facts = [](const ImageFacts& f) {
        json j = {{"image_bytes", f.archive_bytes},
                  {"filesystem_bytes", f.filesystem_bytes},
                  {"files", f.files},
                  {"directories", f.directories},
                  {"kernels", f.kernels}};
        j["packages"] = f.has_dpkg ? json(f.packages.size()) : json(nullptr);
        return j;
    };
    json j = {{"old", facts(c.old_image)}, {"new", facts(c.new_image)}};
    j["added"] = json::object();
    for (const auto& [n, v] : c.added) j["added"][n] = v;
    j["removed"] = json::object();
    for (const auto& [n, v] : c.removed) j["removed"][n] = v;
    j["updated"] = json::object();
    for (const auto& u : c.updated)
        j["updated"][u.name] = {{"old", u.old_version}, {"new", u.new_version}};
    // Package data that is not UTF-8 (a Latin-1 maintainer name) shows as U+FFFD, never aborts.
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace bootcfg
