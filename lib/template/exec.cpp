#include "template/exec.hpp"

#include "model/limits.hpp"
#include "template/go_format.hpp"

namespace bootcfg::template_detail {

namespace {

enum class Flow { normal, break_, continue_ };

class Exec {
  public:
    explicit Exec(const json& root) : root_(root) {}

    std::string run(const std::vector<Node>& nodes) {
        vars_.push_back({"$", Value::ref(root_)});
        walk(Value::ref(root_), nodes);
        return std::move(out_);
    }

  private:
    [[noreturn]] void error(const std::string& message) const { fail(line_, message); }

    Flow walk(const Value& dot, const std::vector<Node>& nodes) {
        for (const Node& n : nodes) {
            line_ = n.line;
            switch (n.kind) {
                case Node::kText:
                    out_ += n.text;
                    break;
                case Node::kAction: {
                    Value v = pipeline(dot, n.pipe);
                    if (n.pipe.decl.empty())
                        out_ += v.valid() ? go_sprint_value(v.p) : "<no value>";
                    break;
                }
                case Node::kIf:
                case Node::kWith: {
                    const std::size_t mark = vars_.size();
                    Value v = pipeline(dot, n.pipe);
                    Flow f = truth(v) ? walk(n.kind == Node::kWith ? v : dot, n.list)
                                      : walk(dot, n.else_list);
                    vars_.resize(mark);
                    if (f != Flow::normal) return f;
                    break;
                }
                case Node::kRange:
                    range(dot, n);
                    break;
                case Node::kBreak:
                    return Flow::break_;
                case Node::kContinue:
                    return Flow::continue_;
            }
        }
        return Flow::normal;
    }

    void range(const Value& dot, const Node& n) {
        const std::size_t mark = vars_.size();
        Value v = pipeline(dot, n.pipe);
        const std::size_t body_mark = vars_.size();
        auto iteration = [&](Value index, Value elem) {
            if (!n.pipe.decl.empty()) vars_[body_mark - 1].second = elem;
            if (n.pipe.decl.size() > 1) vars_[body_mark - 2].second = index;
            Flow f = walk(elem, n.list);
            vars_.resize(body_mark);
            return f != Flow::break_;
        };
        bool iterated = false;
        if (v.valid() && v.p->is_array()) {
            iterated = !v.p->empty();
            for (std::size_t i = 0; i < v.p->size(); ++i) {
                Value elem = v.owned ? Value{&(*v.p)[i], v.owned} : Value::ref((*v.p)[i]);
                if (!iteration(Value::of(json(static_cast<long long>(i))), elem)) break;
            }
        } else if (v.valid() && v.p->is_object()) {
            iterated = !v.p->empty();
            for (const auto& [key, value] : v.p->items()) {
                Value elem = v.owned ? Value{&value, v.owned} : Value::ref(value);
                if (!iteration(Value::of(json(key)), elem)) break;
            }
        } else if (v.valid()) {
            error("range can't iterate over " + go_sprint_value(v.p));
        }
        if (!iterated) {
            line_ = n.line;
            walk(dot, n.else_list);
        }
        vars_.resize(mark);
    }

    Value pipeline(const Value& dot, const Pipeline& p) {
        Value value;
        bool have_final = false;
        for (const Command& c : p.cmds) {
            value = command(dot, c, have_final ? &value : nullptr);
            have_final = true;
        }
        for (const auto& name : p.decl) {
            if (p.assign) {
                bool found = false;
                for (auto it = vars_.rbegin(); it != vars_.rend() && !found; ++it)
                    if (it->first == name) it->second = value, found = true;
                if (!found) error("undefined variable: " + name);
            } else {
                vars_.push_back({name, value});
            }
        }
        return value;
    }

    void not_a_function(const Command& c, const Value* final, const Arg& first) const {
        if (c.args.size() > 1 || final)
            error("can't give argument to non-function " + first.text());
    }

    Value variable(const std::string& name) const {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
            if (it->first == name) return it->second;
        error("undefined variable: " + name);
    }

    Value command(const Value& dot, const Command& c, const Value* final) {
        const Arg& first = c.args[0];
        const bool has_args = c.args.size() > 1 || final;
        switch (first.kind) {
            case Arg::kField:
                return field_chain(dot, first.fields, has_args);
            case Arg::kVariable:
                if (first.fields.empty()) {
                    not_a_function(c, final, first);
                    return variable(first.name);
                }
                return field_chain(variable(first.name), first.fields, has_args);
            case Arg::kPipe:
                if (first.fields.empty()) {
                    not_a_function(c, final, first);
                    return pipeline(dot, *first.sub);
                }
                return field_chain(pipeline(dot, *first.sub), first.fields, has_args);
            case Arg::kFunction: {
                std::vector<const Arg*> args;
                for (std::size_t k = 1; k < c.args.size(); ++k) args.push_back(&c.args[k]);
                return call(dot, first, args, final);
            }
            case Arg::kNil:
                error("nil is not a command");
            case Arg::kDot:
                not_a_function(c, final, first);
                return dot;
            case Arg::kLiteral:
                not_a_function(c, final, first);
                return Value::of(first.literal);
        }
        return {};
    }

    Value field_chain(Value receiver, const std::vector<std::string>& fields, bool has_args) {
        for (std::size_t k = 0; k < fields.size(); ++k)
            receiver = field(receiver, fields[k], has_args && k + 1 == fields.size());
        return receiver;
    }

    Value field(const Value& receiver, const std::string& name, bool has_args) const {
        if (!receiver.valid()) error("nil data; no entry for key \"" + name + "\"");
        const json& j = *receiver.p;
        if (!j.is_object())
            error("can't evaluate field " + name + " in type " + go_type_name(receiver.p));
        if (has_args) error(name + " is not a method but has arguments");
        auto it = j.find(name);
        if (it == j.end()) error("map has no entry for key \"" + name + "\"");
        return Value{&*it, receiver.owned};
    }

    Value arg(const Value& dot, const Arg& a) {
        switch (a.kind) {
            case Arg::kField:
                return field_chain(dot, a.fields, false);
            case Arg::kVariable:
                return field_chain(variable(a.name), a.fields, false);
            case Arg::kPipe:
                return field_chain(pipeline(dot, *a.sub), a.fields, false);
            case Arg::kFunction:
                return call(dot, a, {}, nullptr);
            case Arg::kDot:
                return dot;
            case Arg::kNil:
                return {};
            case Arg::kLiteral:
                return Value::of(a.literal);
        }
        return {};
    }

    Value call(const Value& dot, const Arg& fn, const std::vector<const Arg*>& args,
               const Value* final) {
        if (fn.func == Func::and_ || fn.func == Func::or_) {
            check_arity(fn.name, args.size() + (final ? 1 : 0), 1, true, line_);
            Value v;
            for (const Arg* a : args) {
                v = arg(dot, *a);
                if (truth(v) == (fn.func == Func::or_)) return v;
            }
            return final ? *final : v;
        }
        std::vector<Value> values;
        for (const Arg* a : args) values.push_back(arg(dot, *a));
        if (final) values.push_back(*final);
        return call_function(fn.func, values, line_);
    }

    const json& root_;
    std::string out_;
    std::vector<std::pair<std::string, Value>> vars_;
    int line_ = 0;
};

}  // namespace

std::string execute(const Tree& tree, const json& data) {
    return Exec(data).run(tree.root);
}

}  // namespace bootcfg::template_detail
