#include <catch2/catch.hpp>

#include "template/go_format.hpp"
#include "template/template.hpp"

using namespace bootcfg;
using nlohmann::json;

namespace {

// The output, or "error: line N: reason" for a parse or execution error.
std::string render(const std::string& text, const json& data) {
    const auto t = Template::parse(text);
    if (!t) return "error: line " + std::to_string(t.failure().line) + ": " + t.failure().reason;
    const auto out = t->render(as_go_json(data));
    if (!out)
        return "error: line " + std::to_string(out.failure().line) + ": " + out.failure().reason;
    return *out;
}

std::string parse_error(const std::string& text) {
    const auto t = Template::parse(text);
    return t ? "parsed" : t.failure().reason;
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
    CHECK(render("ok\nok\n{{if .x}}\n", {}) == "error: line 4: unexpected EOF");
    CHECK(parse_error("{{nope}}") == "function \"nope\" not defined");
    CHECK(parse_error("{{$x}}") == "undefined variable \"$x\"");
    CHECK(parse_error("{{define \"a\"}}{{end}}") == "{{define}} is not supported");
    // Found by fuzz_template: " -}}" inside parentheses made the lexer loop forever.
    CHECK(parse_error("{{(1 -}}") == "unclosed left paren");
    CHECK(parse_error("{{(1}}") == "unclosed left paren");
    // Found by fuzz_template: invalid UTF-8 in a literal threw json's type_error, not ours.
    CHECK_THAT(parse_error("{{\"\xff\".x}}"), Catch::Contains("unexpected . after term"));
}

TEST_CASE("templates: missingkey=error and execution errors carry the line") {
    CHECK(render("line1\n{{.missing}}", json::object()) ==
          "error: line 2: map has no entry for key \"missing\"");
    CHECK_THAT(render("{{eq .n 1}}", {{"n", 1}}),
               Catch::EndsWith("error calling eq: incompatible types for comparison"));
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
    const auto t = *Template::parse(
        "{{.a}} {{if .b}}{{.c}}{{end}} {{range .d}}{{.e}}{{end}} {{with .f.x}}{{.g}}{{else}}{{.h}}"
        "{{end}} {{$.i.y}} {{(.j)}} {{printf \"%s\" .k | print}} {{range .l}}{{$.m}}{{end}} "
        "{{.request.query.mac}}");
    CHECK(t.root_keys() == std::vector<std::string>{"a", "b", "c", "d", "f", "h", "i", "j", "k",
                                                    "l", "m", "request"});
    CHECK(Template::parse("no actions")->root_keys().empty());
}
