// Go's fmt formatting of the dynamic values a template sees (nil, bool, int, float64, string,
// []interface{}, map[string]interface{}), held as JSON: integers are Go ints, floats float64,
// null is nil.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bootcfg::template_detail {

// fmt.Sprint(v) / "%v".
std::string go_sprint_value(const nlohmann::json* v);
// fmt.Sprint(args...): spaces between operands when neither side is a string.
std::string go_sprint(const std::vector<const nlohmann::json*>& args);
// fmt.Sprintln(args...): spaces always, newline at the end.
std::string go_sprintln(const std::vector<const nlohmann::json*>& args);
// fmt.Sprintf(format, args...) for the verbs %v %s %d %q %x %X %f %e %g %t %c %% with flags,
// width and precision; Go's %!verb(type=value), %!verb(MISSING) and %!(EXTRA ...) otherwise.
std::string go_sprintf(const std::string& format, const std::vector<const nlohmann::json*>& args);
// Go's type name for error messages: string, int, float64, bool, map[string]interface {}, ...
std::string go_type_name(const nlohmann::json* v);
// strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v prints a float64.
std::string go_format_float(double f);
// strconv.Quote.
std::string go_quote(const std::string& s);
// Appends code point r as UTF-8.
void append_rune(std::string& out, unsigned long r);
// Go's html.EscapeString as text/template's `html` does it: " ' & < > as entities, NUL as U+FFFD.
std::string go_html_escape(std::string_view text);

}  // namespace bootcfg::template_detail
