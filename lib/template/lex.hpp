// Template internals, step 1 of 3: text -> tokens (Go's text/template/parse lexer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "template/template.hpp"

namespace bootcfg::template_detail {

enum class Tok {
    text,
    left,
    right,
    space,
    identifier,
    field,
    variable,
    dot,
    declare,
    assign,
    pipe,
    lparen,
    rparen,
    comma,
    string,
    number,
    boolean,
    nil,
    eof
};

struct Token {
    Tok type;
    std::string text;  // strings: the unquoted value
    int line;
};

[[noreturn]] inline void fail(int line, std::string message) {
    throw TemplateError(std::move(message), line);
}

// The template's tokens; throws TemplateError naming the line.
std::vector<Token> lex(std::string_view text);

}  // namespace bootcfg::template_detail
