// Template: lex (lex.cpp), parse (parse.cpp), execute (exec.cpp, funcs.cpp).
#include "template/template.hpp"

#include "template/tree.hpp"

namespace bootcfg {

using nlohmann::json;

Template Template::parse(std::string_view text) {
    using namespace template_detail;
    Template t;
    t.tree_ = std::make_shared<const Tree>(template_detail::parse(template_detail::lex(text)));
    return t;
}

std::string Template::render(const json& data) const {
    return template_detail::execute(*tree_, data);
}

json as_go_json(json value) {
    if (value.is_number_integer() || value.is_number_unsigned()) return json(value.get<double>());
    if (value.is_array() || value.is_object())
        for (auto& e : value) e = as_go_json(std::move(e));
    return value;
}

}  // namespace bootcfg
