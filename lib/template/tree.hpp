// Template internals: the parsed tree, and what each step produces from the one before
// (lex.hpp: text -> tokens; parse.cpp: tokens -> tree; exec.cpp: tree + data -> text, calling
// funcs.cpp for the functions, which are resolved by name once, when the template is parsed).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "template/lex.hpp"

namespace bootcfg::template_detail {

using nlohmann::json;

enum class Func {
    and_,
    or_,
    not_,
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    len,
    index,
    print,
    printf,
    println,
    urlquery,
    js,
    html,
    // bootcfg extensions (not in Go or matchbox): quoting for the format a template writes, so
    // a label cannot add lines or keys.
    toJson,
    yamlQuote,
    shellQuote
};
std::optional<Func> function_named(std::string_view name);
const char* function_name(Func func);

struct Pipeline;

struct Arg {
    enum Kind { kField, kVariable, kDot, kNil, kLiteral, kFunction, kPipe } kind;
    std::string name;                 // variable or function name
    Func func{};                      // kFunction: resolved when the template is parsed
    std::vector<std::string> fields;  // field chain (on dot, a variable, or a parenthesized pipe)
    json literal;
    std::shared_ptr<Pipeline> sub;
    std::string text() const {
        std::string base = kind == kVariable || kind == kFunction ? name : kind == kDot ? "." : "";
        if (kind == kPipe) base = "(...)";
        // For error messages only; a string literal may hold any bytes.
        if (kind == kLiteral) base = literal.dump(-1, ' ', false, json::error_handler_t::replace);

        if (kind == kNil) base = "nil";
        for (const auto& f : fields) base += "." + f;
        return base;
    }
};

struct Command {
    std::vector<Arg> args;
};

struct Pipeline {
    std::vector<std::string> decl;
    bool assign = false;
    std::vector<Command> cmds;
    int line = 0;
};

struct Node {
    enum Kind { kText, kAction, kIf, kRange, kWith, kBreak, kContinue } kind;
    std::string text;
    Pipeline pipe;
    std::vector<Node> list, else_list;
    int line = 0;
};

struct Tree {
    std::vector<Node> root;
};

Tree parse(std::vector<Token> tokens);
std::string execute(const Tree& tree, const json& data);

}  // namespace bootcfg::template_detail
