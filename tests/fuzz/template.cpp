// The Go text/template engine: any text either parses or fails with a reason (never an engine
// bug), and a parsed template either renders or fails with a reason, over data shaped like
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
    // An engine bug surfaces as an "internal error" failure (never thrown): that is a finding.
    const auto sound = [](const Failure& f) {
        return f.line >= 0 && !f.reason.empty() && !f.reason.starts_with("internal error");
    };
    const auto t = Template::parse(text);
    if (!t) {
        fuzz::require(sound(t.failure()));
        return 0;
    }
    if (const auto out = t->render(data()); !out) fuzz::require(sound(out.failure()));
    return 0;
}
