// Template: lex (lex.cpp), parse (parse.cpp), execute (exec.cpp, funcs.cpp).
#include "template/template.hpp"

#include <set>

#include "template/tree.hpp"

namespace bootcfg {

using nlohmann::json;

namespace {

template <class T, class Run>
Result<T> guarded(Run run) {
    try {
        return run();
    } catch (const template_detail::TemplateError& e) {
        return Failure{e.what(), {}, e.line()};
    } catch (const std::exception& e) {  // a bug in the engine: reported, never fatal
        return fail(std::string("internal error: ") + e.what());
    }
}

}  // namespace

Result<Template> Template::parse(std::string_view text) {
    return guarded<Template>([&] {
        using namespace template_detail;
        Template t;
        t.tree_ = std::make_shared<const Tree>(template_detail::parse(template_detail::lex(text)));
        return t;
    });
}

Result<std::string> Template::render(const json& data) const {
    return guarded<std::string>([&] { return template_detail::execute(*tree_, data); });
}

namespace {

using template_detail::Arg;
using template_detail::Node;
using template_detail::Pipeline;

// Collects root keys; `at_root`: the dot is still the data itself.
struct RootKeys {
    std::set<std::string> keys;

    void pipeline(const Pipeline& p, bool at_root) {
        for (const auto& c : p.cmds)
            for (const Arg& a : c.args) arg(a, at_root);
    }
    void arg(const Arg& a, bool at_root) {
        if (a.kind == Arg::kField && at_root && !a.fields.empty()) keys.insert(a.fields.front());
        if (a.kind == Arg::kVariable && a.name == "$" && !a.fields.empty())
            keys.insert(a.fields.front());
        if (a.kind == Arg::kPipe && a.sub) pipeline(*a.sub, at_root);
    }
    void nodes(const std::vector<Node>& list, bool at_root) {
        for (const Node& n : list) {
            pipeline(n.pipe, at_root);
            // range and with move the dot into their body; if and every else keep it.
            const bool body_at_root = at_root && n.kind != Node::kRange && n.kind != Node::kWith;
            nodes(n.list, body_at_root);
            nodes(n.else_list, at_root);
        }
    }
};

}  // namespace

std::vector<std::string> Template::root_keys() const {
    RootKeys found;
    found.nodes(tree_->root, true);
    return {found.keys.begin(), found.keys.end()};
}

json as_go_json(json value) {
    if (value.is_number_integer() || value.is_number_unsigned()) return json(value.get<double>());
    if (value.is_array() || value.is_object())
        for (auto& e : value) e = as_go_json(std::move(e));
    return value;
}

}  // namespace bootcfg
