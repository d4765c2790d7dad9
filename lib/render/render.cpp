#include "render/render.hpp"

#include <nlohmann/json.hpp>

namespace bootcfg {

const std::string& chain_script() {
    static const std::string script =
        "#!ipxe\n"
        "chain ipxe?uuid=${uuid}&mac=${mac:hexhyp}&domain=${domain}&hostname=${hostname}"
        "&serial=${serial}&arch=${buildarch:uristring}\n";
    return script;
}

std::string join_args(const BootSpec& boot) {
    std::string out;
    for (const auto& arg : boot.args) {
        if (!out.empty()) out += ' ';
        out += arg;
    }
    return out;
}

std::string ipxe_script(const BootSpec& boot) {
    std::string out = "#!ipxe\nkernel ";
    out += boot.kernel;
    for (const auto& arg : boot.args) {
        out += ' ';
        out += arg;
    }
    out += '\n';
    for (const auto& initrd : boot.initrd) {
        out += "initrd ";
        out += initrd;
        out += '\n';
    }
    out += "boot\n";
    return out;
}

std::string pixiecore_json(const BootSpec& boot) {
    nlohmann::ordered_json doc;
    doc["kernel"] = boot.kernel;
    doc["initrd"] = boot.initrd;
    doc["cmdline"] = join_args(boot);
    return doc.dump() + "\n";
}

}  // namespace bootcfg
