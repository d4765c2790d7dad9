#include <catch2/catch.hpp>

#include "template/go_format.hpp"
#include "template/template.hpp"

using namespace bootcfg;
using nlohmann::json;

namespace {

std::string render(const std::string& text, const json& data) {
    return Template::parse(text).render(as_go_json(data));
}

}  // namespace

TEST_CASE("templates: fields, ranges, trimming") {
    const json data = {{"name", "node1"}, {"keys", {"a", "b"}}, {"n", {{"x", {{"y", 1}}}}}};
    CHECK(render("{{.name}}/{{.n.x.y}}", data) == "node1/1");
    CHECK(render("{{range $i, $k := .keys}}{{$i}}{{$k}} {{end}}", data) == "0a 1b ");
    CHECK(render("a \n {{- .name -}} \n b", data) == "anode1b");
    CHECK(render("{{/* c */}}x", data) == "x");
}

TEST_CASE("templates: syntax errors name the line at parse time") {
    try {
        Template::parse("ok\nok\n{{if .x}}\n");
        FAIL("expected a parse error");
    } catch (const TemplateError& e) {
        CHECK(e.line() == 4);
        CHECK(std::string(e.what()) == "unexpected EOF");
    }
    CHECK_THROWS_WITH(Template::parse("{{nope}}"), "function \"nope\" not defined");
    CHECK_THROWS_WITH(Template::parse("{{$x}}"), "undefined variable \"$x\"");
    CHECK_THROWS_WITH(Template::parse("{{define \"a\"}}{{end}}"), "{{define}} is not supported");
    // Found by fuzz_template: " -}}" inside parentheses made the lexer loop forever.
    CHECK_THROWS_WITH(Template::parse("{{(1 -}}"), "unclosed left paren");
    CHECK_THROWS_WITH(Template::parse("{{(1}}"), "unclosed left paren");
    // Found by fuzz_template: invalid UTF-8 in a literal threw json's type_error, not ours.
    CHECK_THROWS_WITH(Template::parse("{{\"\xff\".x}}"),
                      Catch::Contains("unexpected . after term"));
}

TEST_CASE("templates: missingkey=error and execution errors carry the line") {
    const auto t = Template::parse("line1\n{{.missing}}");
    try {
        t.render(json::object());
        FAIL("expected an execution error");
    } catch (const TemplateError& e) {
        CHECK(e.line() == 2);
        CHECK(std::string(e.what()) == "map has no entry for key \"missing\"");
    }
    CHECK_THROWS_WITH(render("{{eq .n 1}}", {{"n", 1}}),
                      "error calling eq: incompatible types for comparison");
}

TEST_CASE("Go number formatting of JSON numbers") {
    using template_detail::go_format_float;
    CHECK(go_format_float(8080) == "8080");
    CHECK(go_format_float(100000) == "100000");
    CHECK(go_format_float(1000000) == "1e+06");
    CHECK(go_format_float(1234567) == "1.234567e+06");
    CHECK(go_format_float(0.0001) == "0.0001");
    CHECK(go_format_float(0.00001) == "1e-05");
    CHECK(go_format_float(-2.5) == "-2.5");
    CHECK(go_format_float(1e21) == "1e+21");
}

TEST_CASE("template: the keys read from the top of the data") {
    const auto t = Template::parse(
        "{{.a}} {{if .b}}{{.c}}{{end}} {{range .d}}{{.e}}{{end}} {{with .f.x}}{{.g}}{{else}}{{.h}}"
        "{{end}} {{$.i.y}} {{(.j)}} {{printf \"%s\" .k | print}} {{range .l}}{{$.m}}{{end}} "
        "{{.request.query.mac}}");
    CHECK(t.root_keys() == std::vector<std::string>{"a", "b", "c", "d", "f", "h", "i", "j", "k",
                                                    "l", "m", "request"});
    CHECK(Template::parse("no actions").root_keys().empty());
}
