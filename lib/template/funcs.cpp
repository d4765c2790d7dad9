// The template functions: Go's builtins (and, or, not, eq, ..., printf, urlquery, js, html)
// and bootcfg's quoting functions, over evaluated arguments.
#include <cmath>
#include <functional>

#include "template/exec.hpp"
#include "template/go_format.hpp"

namespace bootcfg::template_detail {

namespace {

// In Func order.
const char* const kFunctions[] = {"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len",
                                  "index", "print", "printf", "println", "urlquery", "js", "html",
                                  // bootcfg extensions (not in Go or matchbox): quoting for the
                                  // format a template writes, so a label cannot add lines or keys.
                                  "toJson", "yamlQuote", "shellQuote"};

class Builtins {
  public:
    explicit Builtins(int line) : line_(line) {}

    [[noreturn]] void error(const std::string& message) const { fail(line_, message); }

    void arity(const std::string& name, std::size_t got, std::size_t want, bool at_least) const {
        if (at_least ? got < want : got != want)
            error("wrong number of args for " + name + ": want " + (at_least ? "at least " : "") +
                  std::to_string(want) + " got " + std::to_string(got));
    }

    [[noreturn]] void call_error(const std::string& name, const std::string& message) const {
        error("error calling " + name + ": " + message);
    }

    bool eq(const std::string& name, const std::vector<Value>& v) const {
        const Kind k1 = kind_of(v[0]);
        if (k1 == Kind::other) call_error(name, "invalid type for comparison");
        if (v.size() < 2) call_error(name, "missing argument for comparison");
        for (std::size_t i = 1; i < v.size(); ++i) {
            const Kind k2 = kind_of(v[i]);
            bool t = false;
            if (k1 != k2) {
                if (k1 != Kind::invalid && k2 != Kind::invalid)
                    call_error(name, "incompatible types for comparison");
            } else {
                switch (k1) {
                    case Kind::boolean:
                        t = v[0].p->get<bool>() == v[i].p->get<bool>();
                        break;
                    case Kind::floating:
                        t = v[0].p->get<double>() == v[i].p->get<double>();
                        break;
                    case Kind::integer:
                        t = v[0].p->get<long long>() == v[i].p->get<long long>();
                        break;
                    case Kind::string:
                        t = *v[0].p == *v[i].p;
                        break;
                    case Kind::invalid:
                        t = true;
                        break;
                    case Kind::other:
                        break;
                }
            }
            if (t) return true;
        }
        return false;
    }

    bool lt(const std::string& name, const Value& a, const Value& b) const {
        const Kind k1 = kind_of(a), k2 = kind_of(b);
        if (k1 == Kind::invalid || k1 == Kind::other || k2 == Kind::invalid || k2 == Kind::other)
            call_error(name, "invalid type for comparison");
        if (k1 != k2) call_error(name, "incompatible types for comparison");
        switch (k1) {
            case Kind::floating:
                return a.p->get<double>() < b.p->get<double>();
            case Kind::integer:
                return a.p->get<long long>() < b.p->get<long long>();
            case Kind::string:
                return a.p->get_ref<const std::string&>() < b.p->get_ref<const std::string&>();
            default:
                call_error(name, "invalid type for comparison");
        }
    }

    // JSON as Go's encoding/json writes data decoded into interface{}: integral float64s without
    // a fraction; invalid UTF-8 replaced. Data is at most kMaxNesting deep (checked at load).
    static std::string json_text(const json& j) {
        auto integral = [](const json& x) {
            return x.is_number_float() && std::abs(x.get<double>()) < 1e15 &&
                   x.get<double>() == static_cast<double>(static_cast<long long>(x.get<double>()));
        };
        std::function<json(const json&)> convert = [&](const json& x) -> json {
            if (integral(x)) return static_cast<long long>(x.get<double>());
            if (x.is_array() || x.is_object()) {
                json out = x.is_array() ? json::array() : json::object();
                for (auto it = x.begin(); it != x.end(); ++it) {
                    if (x.is_array())
                        out.push_back(convert(*it));
                    else
                        out[it.key()] = convert(*it);
                }
                return out;
            }
            return x;
        };
        return convert(j).dump(-1, ' ', false, json::error_handler_t::replace);
    }

    static std::string eval_args(const std::vector<Value>& v) {
        if (v.size() == 1 && v[0].valid() && v[0].p->is_string()) return v[0].p->get<std::string>();
        std::vector<const json*> ptrs;
        for (const auto& x : v) ptrs.push_back(x.valid() ? x.p : nullptr);
        return go_sprint(ptrs);
    }

    Value builtin(Func f, const std::vector<Value>& v) {
        const std::string name = function_name(f);
        std::vector<const json*> ptrs;
        for (const auto& x : v) ptrs.push_back(x.valid() ? x.p : nullptr);
        if (f == Func::not_) {
            arity(name, v.size(), 1, false);
            return Value::of(!truth(v[0]));
        }
        if (f == Func::eq) {
            arity(name, v.size(), 1, true);
            return Value::of(eq(name, v));
        }
        if (f == Func::ne) {
            arity(name, v.size(), 2, false);
            return Value::of(!eq(name, v));
        }
        if (f == Func::lt || f == Func::le || f == Func::gt || f == Func::ge) {
            arity(name, v.size(), 2, false);
            const bool less = lt(name, v[0], v[1]);
            if (f == Func::lt) return Value::of(less);
            const bool le = less || eq(name, v);
            return Value::of(f == Func::le ? le : f == Func::gt ? !le : !less);
        }
        if (f == Func::len) {
            arity(name, v.size(), 1, false);
            if (!v[0].valid()) call_error(name, "len of nil pointer");
            const json& j = *v[0].p;
            if (j.is_string())
                return Value::of(static_cast<long long>(j.get_ref<const std::string&>().size()));
            if (j.is_array() || j.is_object()) return Value::of(static_cast<long long>(j.size()));
            call_error(name, "len of type " + go_type_name(v[0].p));
        }
        if (f == Func::index) {
            arity(name, v.size(), 1, true);
            Value item = v[0];
            if (!item.valid()) call_error(name, "index of untyped nil");
            for (std::size_t k = 1; k < v.size(); ++k) {
                if (!item.valid()) call_error(name, "index of nil pointer");
                const json& j = *item.p;
                const Value& key = v[k];
                if (j.is_array() || j.is_string()) {
                    if (!key.valid()) call_error(name, "cannot index slice/array with nil");
                    if (kind_of(key) != Kind::integer)
                        call_error(name,
                                   "cannot index slice/array with type " + go_type_name(key.p));
                    const long long x = key.p->get<long long>();
                    const long long size =
                        j.is_array()
                            ? static_cast<long long>(j.size())
                            : static_cast<long long>(j.get_ref<const std::string&>().size());
                    if (x < 0 || x >= size)
                        call_error(name, "index out of range: " + std::to_string(x));
                    if (j.is_array())
                        item = Value{&j[static_cast<std::size_t>(x)], item.owned};
                    else
                        item = Value::of(static_cast<long long>(
                            static_cast<unsigned char>(j.get_ref<const std::string&>()[x])));
                } else if (j.is_object()) {
                    if (!key.valid()) call_error(name, "value is nil; should be of type string");
                    if (!key.p->is_string())
                        call_error(name,
                                   "value has type " + go_type_name(key.p) + "; should be string");
                    auto it = j.find(key.p->get<std::string>());
                    item = it == j.end() ? Value{} : Value{&*it, item.owned};
                } else {
                    call_error(name, "can't index item of type " + go_type_name(item.p));
                }
            }
            return item;
        }
        if (f == Func::toJson) {
            arity(name, v.size(), 1, false);
            return Value::of(v[0].valid() ? json_text(*v[0].p) : std::string("null"));
        }
        if (f == Func::yamlQuote) {
            // A JSON string is a YAML double-quoted scalar (control bytes as \u escapes).
            return Value::of(
                json(eval_args(v)).dump(-1, ' ', false, json::error_handler_t::replace));
        }
        if (f == Func::shellQuote) {
            std::string out = "'";
            for (char c : eval_args(v)) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
            return Value::of(out + "'");
        }
        if (f == Func::print) return Value::of(go_sprint(ptrs));
        if (f == Func::println) return Value::of(go_sprintln(ptrs));
        if (f == Func::printf) {
            arity(name, v.size(), 1, true);
            if (!v[0].valid()) error("invalid value; expected string");
            if (!v[0].p->is_string())
                error("wrong type for value; expected string; got " + go_type_name(v[0].p));
            return Value::of(go_sprintf(v[0].p->get<std::string>(),
                                        std::vector<const json*>(ptrs.begin() + 1, ptrs.end())));
        }
        if (f == Func::urlquery) {
            std::string out;
            static const char* hex = "0123456789ABCDEF";
            for (unsigned char c : eval_args(v)) {
                if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
                    out += static_cast<char>(c);
                else if (c == ' ')
                    out += '+';
                else {
                    out += '%';
                    out += hex[c >> 4];
                    out += hex[c & 15];
                }
            }
            return Value::of(out);
        }
        if (f == Func::html) return Value::of(go_html_escape(eval_args(v)));
        if (f == Func::js) {
            std::string out;
            static const char* hex = "0123456789ABCDEF";
            for (unsigned char c : eval_args(v)) {
                switch (c) {
                    case '\\':
                        out += "\\\\";
                        break;
                    case '\'':
                        out += "\\'";
                        break;
                    case '"':
                        out += "\\\"";
                        break;
                    case '<':
                        out += "\\u003C";
                        break;
                    case '>':
                        out += "\\u003E";
                        break;
                    case '&':
                        out += "\\u0026";
                        break;
                    case '=':
                        out += "\\u003D";
                        break;
                    default:
                        if (c < ' ') {
                            out += "\\u00";
                            out += hex[c >> 4];
                            out += hex[c & 15];
                        } else {
                            out += static_cast<char>(c);
                        }
                }
            }
            return Value::of(out);
        }
        error("function \"" + name + "\" not defined");
    }

  private:
    int line_;
};

}  // namespace

std::optional<Func> function_named(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kFunctions); ++i)
        if (name == kFunctions[i]) return static_cast<Func>(i);
    return std::nullopt;
}

const char* function_name(Func func) {
    return kFunctions[static_cast<std::size_t>(func)];
}

Value call_function(Func func, const std::vector<Value>& args, int line) {
    return Builtins(line).builtin(func, args);
}

void check_arity(const std::string& name, std::size_t got, std::size_t want, bool at_least,
                 int line) {
    Builtins(line).arity(name, got, want, at_least);
}

}  // namespace bootcfg::template_detail
