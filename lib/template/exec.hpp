// Template internals, step 3 of 3: values during execution, and the functions they are passed to.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "template/tree.hpp"

namespace bootcfg::template_detail {

// A value during execution: points into the data or into a value computed here. Null is Go's nil.
struct Value {
    const json* p = nullptr;
    std::shared_ptr<const json> owned;

    static Value of(json j) {
        Value v;
        v.owned = std::make_shared<const json>(std::move(j));
        v.p = v.owned.get();
        return v;
    }
    static Value ref(const json& j) {
        Value v;
        v.p = &j;
        return v;
    }
    bool valid() const { return p && !p->is_null(); }
};

inline bool truth(const Value& v) {
    if (!v.valid()) return false;
    const json& j = *v.p;
    if (j.is_boolean()) return j.get<bool>();
    if (j.is_number_float()) return j.get<double>() != 0;
    if (j.is_number()) return j.get<long long>() != 0;
    if (j.is_string()) return !j.get_ref<const std::string&>().empty();
    return !j.empty();
}

enum class Kind { invalid, boolean, integer, floating, string, other };

inline Kind kind_of(const Value& v) {
    if (!v.valid()) return Kind::invalid;
    const json& j = *v.p;
    if (j.is_boolean()) return Kind::boolean;
    if (j.is_number_float()) return Kind::floating;
    if (j.is_number()) return Kind::integer;
    if (j.is_string()) return Kind::string;
    return Kind::other;
}

// Calls a function (other than and/or, which the executor short-circuits) with evaluated
// arguments; errors name the template line.
Value call_function(Func func, const std::vector<Value>& args, int line);
// Go's argument-count check and message.
void check_arity(const std::string& name, std::size_t got, std::size_t want, bool at_least,
                 int line);

}  // namespace bootcfg::template_detail
