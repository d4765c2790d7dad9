// The Go text/template engine: any text either parses or throws TemplateError (never anything
// else), and a parsed template either renders or throws TemplateError, over data shaped like
// what bootcfgd passes (strings, numbers as float64, bools, null, nested maps and lists).
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "template/template.hpp"

using namespace bootcfg;

namespace {

const nlohmann::json& data() {
    static const nlohmann::json d = as_go_json(nlohmann::json::parse(R"({
        "mac": "52:54:00:12:34:56", "uuid": "", "hostname": "node1", "n": 3, "f": -2.5,
        "big": 1e300, "t": true, "nil": null, "empty": "", "s": "a<b>&'\"\u00e9\u2028",
        "list": ["x", 2, false], "one": [1], "none": [],
        "map": {"b": 1, "a": "two", "c": {"deep": [null]}},
        "request": {"query": {"mac": "52:54:00:12:34:56"}, "raw_query": "mac=52-54-00-12-34-56"}
    })"));
    return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(bytes), size);
    try {
        const Template t = Template::parse(text);
        try {
            (void)t.render(data());
        } catch (const TemplateError& e) {
            fuzz::require(e.line() >= 0);
        }
    } catch (const TemplateError& e) {
        fuzz::require(e.line() >= 0);
    }
    return 0;
}
