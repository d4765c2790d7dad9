// Regression tests for the adversarial review (#24): each input class that crashed, injected or
// was silently accepted before.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "admin/api.hpp"
#include "assets/assets.hpp"
#include "logging/log_text.hpp"
#include "model/limits.hpp"
#include "render/render.hpp"
#include "store/data_files.hpp"
#include "temp_dir.hpp"
#include "template/template.hpp"

using namespace bootcfg;
using nlohmann::json;

namespace {

std::string nested(const char* open, const char* close, int depth, const std::string& inner) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += inner;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
}

Labels labels(std::initializer_list<std::pair<std::string, std::string>> pairs) {
    Labels l;
    for (const auto& [k, v] : pairs) l.set(k, v);
    return l;
}

}  // namespace

TEST_CASE("metadata: only shell identifiers become variable names") {
    Group g;
    g.id = "g";
    g.selector = labels({{"mac", "52:54:00:00:00:01"}, {"a;b", "1"}});
    g.metadata = Metadata(json::parse(R"J({"ok": "x", "$(reboot)": "y", "n": {"a b": 1, "c": 2},
                                "1st": 3, "new\nline": 4, "back`tick`": 5, "dash-ed": 6})J"));
    const auto labels_q = labels({{"x;touch /tmp/p", "1"}, {"fine_key", "v"}, {"sp ace", "2"}});
    for (const auto& out :
         {metadata_env(g, labels_q, "q"), metadata_env(template_data(g, labels_q, "q"))}) {
        std::size_t start = 0;
        int lines = 0;
        while (start < out.size()) {
            const auto end = out.find('\n', start);
            const std::string line = out.substr(start, end - start);
            start = end + 1;
            ++lines;
            INFO(line);
            CHECK(std::regex_search(line, std::regex("^[A-Z_][A-Z0-9_]*=")));
        }
        CHECK(out.find("OK=x\n") != std::string::npos);
        CHECK(out.find("N_C=2\n") != std::string::npos);
        CHECK(out.find("REQUEST_QUERY_FINE_KEY=v\n") != std::string::npos);
        CHECK(out.find("MAC=52:54:00:00:00:01\n") != std::string::npos);
        CHECK(out.find("reboot") == std::string::npos);
        CHECK(out.find("touch") == std::string::npos);
        CHECK(lines == 5);  // MAC, N_C, OK, REQUEST_QUERY_FINE_KEY, REQUEST_RAW_QUERY: no other
    }
}

TEST_CASE("one nesting limit for every JSON document") {
    for (const auto& doc : {nested("[", "]", 100000, ""), nested("{\"a\":", "}", 100000, "1"),
                            R"({"id": "g", "profile": "p", "metadata": )" +
                                nested("[", "]", kMaxNesting, "") + "}"}) {
        const auto g = parse_group(doc);
        REQUIRE_FALSE(g);
        CHECK(g.failure().reason.find("nested deeper than 64") != std::string::npos);
    }
    CHECK(parse_group(R"({"id": "g", "profile": "p", "metadata": )" +
                      nested("{\"a\":", "}", kMaxNesting - 1, "1") + "}"));
    const auto entry =
        parse_template_entry(TemplateKind::ignition, "x.ign", nested("[", "]", 5000, ""));
    REQUIRE_FALSE(entry);
    CHECK(entry.failure().reason.find("nested deeper") != std::string::npos);
}

TEST_CASE("template blocks and parentheses are nested at most kMaxNesting deep") {
    std::string deep_if, deep_paren = "{{" + nested("(", ")", 100, "1") + "}}";
    for (int i = 0; i < 100; ++i) deep_if += "{{if 1}}";
    for (int i = 0; i < 100; ++i) deep_if += "{{end}}";
    std::string chain = "{{if 0}}";
    for (int i = 0; i < 100; ++i) chain += "{{else if 0}}";
    chain += "{{end}}";
    for (const auto& t : {deep_if, deep_paren, chain}) {
        const auto parsed = Template::parse(t);
        REQUIRE_FALSE(parsed);
        CHECK(parsed.failure().reason.find("nested deeper than 64") != std::string::npos);
    }
    CHECK(*Template::parse("{{if 1}}{{if 1}}{{(print (print 1))}}{{end}}{{end}}")
               ->render(json::object()) == "1");
}

TEST_CASE("control bytes in kernel, initrd and args are refused with the field named") {
    struct Case {
        const char* doc;
        const char* field;
    };
    for (const auto& c : std::initializer_list<Case>{
             {R"({"id":"p","boot":{"kernel":"/k\nshell"}})", "boot.kernel"},
             {R"({"id":"p","boot":{"kernel":"/k","initrd":["/i\r\nboot"]}})", "boot.initrd"},
             {R"({"id":"p","boot":{"kernel":"/k","args":["a=\u0000"]}})", "boot.args"},
             {R"({"id":"p","boot":{"kernel":"/k","cmdline":{"a":"x\u001b[2J"}}})", "boot.args"},
             {R"({"id":"p","boot":{"kernel":"/k","args":["tab\there"]}})", "boot.args"},
             {R"({"id":"p","boot":{"kernel":"/k\u007f"}})", "boot.kernel"}}) {
        INFO(c.doc);
        const auto p = parse_profile(c.doc);
        REQUIRE_FALSE(p);
        CHECK(p.failure().field == c.field);
    }
    const auto boot = parse_layout_boot(R"({"kernel":"/k","cmdline":{"x":"1\nkernel /evil"}})");
    REQUIRE_FALSE(boot);
    CHECK(boot.failure().field == "cmdline");
    CHECK(parse_layout_boot(R"({"kernel":"/k","cmdline":{"x":"ünïcode ok"}})"));
}

TEST_CASE("GRUB paths stay inside their quotes") {
    const auto g = grub_config(BootSpec{"/k\" ; reboot #", {"/i\\\""}, {}}, false);
    CHECK(g.find("linux \"/k\\\" ; reboot #\"") != std::string::npos);
    CHECK(g.find("\"/i\\\\\\\"\"") != std::string::npos);
}

TEST_CASE("selectors are compared structurally for duplicates") {
    StoreContents c;
    c.profiles.push_back(Profile{"p", "", false, {}, "", "", "", "/d/profiles/p.json"});
    Group a, b;
    a.id = "a";
    a.profile = "p";
    a.selector = labels({{"k", "1,l=2"}});
    a.source = "/d/groups/a.json";
    b.id = "b";
    b.profile = "p";
    b.selector = labels({{"k", "1"}, {"l", "2"}});
    b.source = "/d/groups/b.json";
    c.groups = {a, b};
    CHECK(Snapshot(c).problems().empty());
    c.groups.push_back(b);
    c.groups.back().id = "c";
    c.groups.back().source = "/d/groups/c.json";
    const Snapshot s(c);
    REQUIRE(s.problems().size() == 1);
    CHECK(s.problems()[0].reason.find("same selector") != std::string::npos);
}

TEST_CASE("Range: positions beyond 64 bits, and the unit in any case") {
    ConditionalHeaders h;
    h.range = "bytes=99999999999999999999999-";
    CHECK(plan_asset(100, 0, h).status == 416);
    h.range = "bytes=0-99999999999999999999999";
    auto p = plan_asset(100, 0, h);
    CHECK(p.status == 206);
    CHECK(p.length == 100);
    h.range = "bytes=-99999999999999999999999";
    CHECK(plan_asset(100, 0, h).length == 100);
    h.range = "BYTES=1-2";
    CHECK(plan_asset(100, 0, h).status == 206);
    h.range = "Bytes=200-";
    CHECK(plan_asset(100, 0, h).status == 416);
}

TEST_CASE("template quoting functions keep values inside their format") {
    const json data = {{"v", "a\"b\n- evil: 1\\ 'q' \x01"}, {"n", 8080.0}, {"o", {{"k", 1.5}}}};
    const auto render = [](const char* text, const json& d) {
        return *Template::parse(text)->render(d);
    };
    CHECK(render("key: {{yamlQuote .v}}", data) == "key: \"a\\\"b\\n- evil: 1\\\\ 'q' \\u0001\"");
    CHECK(json::parse(render("{\"a\": {{toJson .v}}, \"n\": {{toJson .n}}, \"o\": {{toJson .o}}}",
                             data)) == json({{"a", data["v"]}, {"n", 8080}, {"o", {{"k", 1.5}}}}));
    CHECK(render("{{toJson .n}}", data) == "8080");
    CHECK(render("X={{shellQuote .v}}", json{{"v", "it's $(x)"}}) == "X='it'\\''s $(x)'");
}

TEST_CASE("log lines: escaped bytes, masked secrets") {
    CHECK(log_escape("a\nb\\c\x7f\xc3\xa9") == "a\\x0ab\\x5cc\\x7f\\xc3\\xa9");
    CHECK(log_target("/ipxe?mac=1&token=s3cret&api_key=k&x=%0a") ==
          "/ipxe?mac=1&token=***&api_key=***&x=%0a");
    CHECK(log_target("/a?Password=p&%74oken=t&sig=z&design=d") ==
          "/a?Password=***&%74oken=***&sig=***&design=d");
    CHECK(log_target("/p\nath") == "/p\\x0aath");
}

TEST_CASE("admin API: writes land where they are served, or are refused") {
    test::TempDir dir;
    dir.write("profiles/a.json", R"({"id": "b", "boot": {"kernel": "/old"}})");
    dir.write("profiles/c.json", R"({"id": "d", "boot": {"kernel": "/d"}})");
    dir.write("profiles/x.json", R"({"id": "x", "boot": {"kernel": "/x"}})");
    dir.write("groups/g.json",
              R"({"id": "h", "profile": "x", "selector": {"mac": "52:54:00:00:00:01"}})");
    dir.write("cloud/default", "#cloud-config\n");
    DirectorySource source(dir.path().string());
    SnapshotHolder holder(load_snapshot(source, nullptr));
    LiveStore store(source, holder);
    admin::AdminApi api(store);
    auto call = [&](std::string_view m, std::string_view t, std::string_view body = {},
                    std::string_view im = {}, std::string_view inm = {}) {
        return api.handle(admin::ApiRequest{m, t, body, im, inm, "test"});
    };
    // A file named differently from its id: the write goes to that file and is served.
    auto r = call("PUT", "/api/v1/profiles/b", R"({"id": "b", "boot": {"kernel": "/new"}})");
    CHECK(r.status == 200);
    CHECK(holder.get()->profile("b")->boot.kernel == "/new");
    r = call("PUT", "/api/v1/groups/h",
             R"({"id": "h", "profile": "b", "selector": {"mac": "52:54:00:00:00:01"}})");
    CHECK(r.status == 200);
    for (const Group* g : holder.get()->groups())
        if (g->id == "h") CHECK(g->profile == "b");
    // A file by the name that holds another object is not overwritten.
    r = call("PUT", "/api/v1/profiles/c", R"({"id": "c", "boot": {"kernel": "/c"}})");
    CHECK(r.status == 409);
    CHECK(r.body.find("holds profile 'd'") != std::string::npos);
    CHECK(holder.get()->profile("d"));
    // Delete removes what is served.
    CHECK(call("DELETE", "/api/v1/profiles/d").status == 200);
    CHECK_FALSE(holder.get()->profile("d"));
    CHECK(call("GET", "/api/v1/profiles/d").status == 404);
    // Names the bootcfg layout reserves.
    for (const char* n : {"default", "uuid", "mac"}) {
        r = call("PUT", std::string("/api/v1/cloud/") + n, "#cloud-config\nx: 1\n");
        CHECK(r.status == 409);
        CHECK(r.body.find("reserved") != std::string::npos);
    }
    CHECK(holder.get()->template_entry(TemplateKind::cloud, "default")->text == "#cloud-config\n");
    // Conditional writes, RFC 9110 13.1.
    const auto rev = call("GET", "/api/v1/profiles/x").etag;
    REQUIRE_FALSE(rev.empty());
    const std::string body = R"({"id": "x", "boot": {"kernel": "/x2"}})";
    CHECK(call("PUT", "/api/v1/profiles/x", body, "W/\"" + rev + "\"").status == 412);
    CHECK(call("PUT", "/api/v1/profiles/x", body, {}, "\"" + rev + "\"").status == 412);
    CHECK(call("PUT", "/api/v1/profiles/x", body, {}, "W/\"" + rev + "\"").status == 412);
    CHECK(call("PUT", "/api/v1/profiles/x", body, "\"zz\", \"" + rev + "\"").status == 200);
    CHECK(call("PUT", "/api/v1/profiles/x", body, {}, "\"zz\", \"yy\"").status == 200);
    CHECK(call("PUT", "/api/v1/profiles/new", body, "*").status == 412);
    // Deep documents through the API, JSON or Ignition.
    CHECK(call("PUT", "/api/v1/ignition/deep.ign", nested("[", "]", 1000, "")).status == 400);
    CHECK(call("PUT", "/api/v1/groups/deep", nested("[", "]", 100000, "")).status == 400);
}
