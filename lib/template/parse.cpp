// Template internals, step 2 of 3: tokens -> tree (Go's text/template/parse parser).
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "model/limits.hpp"
#include "template/tree.hpp"

namespace bootcfg::template_detail {

namespace {

bool is_keyword(const std::string& w) {
    for (const char* k :
         {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"})
        if (w == k) return true;
    return false;
}

const char* describe(const Token& t) {
    switch (t.type) {
        case Tok::right:
            return "}}";
        case Tok::rparen:
            return ")";
        case Tok::eof:
            return "EOF";
        case Tok::pipe:
            return "|";
        case Tok::declare:
            return ":=";
        case Tok::assign:
            return "=";
        case Tok::comma:
            return ",";
        default:
            return t.text.c_str();
    }
}

json parse_number(const std::string& text, int line) {
    if (text[0] == '\'') return json(std::stoll(text.substr(1)));
    std::string s;
    for (char c : text)
        if (c != '_') s += c;
    const bool hex = s.find("0x") != std::string::npos || s.find("0X") != std::string::npos;
    const bool is_float = !hex && s.find_first_of(".eE") != std::string::npos;
    char* end = nullptr;
    if (is_float) {
        const double d = std::strtod(s.c_str(), &end);
        if (*end || end == s.c_str()) fail(line, "bad number syntax: \"" + text + "\"");
        return json(d);
    }
    std::string digits = s;
    int base = 10;
    bool negative = false;
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
        negative = digits[0] == '-';
        digits.erase(0, 1);
    }
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        base = 16, digits.erase(0, 2);
    else if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'B'))
        base = 2, digits.erase(0, 2);
    else if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O'))
        base = 8, digits.erase(0, 2);
    else if (digits.size() > 1 && digits[0] == '0')
        base = 8, digits.erase(0, 1);
    if (digits.empty()) fail(line, "bad number syntax: \"" + text + "\"");
    errno = 0;
    const long long v = std::strtoll(digits.c_str(), &end, base);
    if (*end || errno) fail(line, "bad number syntax: \"" + text + "\"");
    return json(negative ? -v : v);
}

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

    Tree run() {
        Tree tree;
        std::string end;
        tree.root = list(end, true);
        return tree;
    }

  private:
    const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
    const Token& peek() const { return t_[i_]; }
    void backup() { --i_; }
    const Token& next_non_space() {
        while (peek().type == Tok::space) ++i_;
        return next();
    }
    const Token& peek_non_space() {
        while (peek().type == Tok::space) ++i_;
        return peek();
    }
    void expect_right(const char* context) {
        const Token& t = next_non_space();
        if (t.type != Tok::right)
            fail(t.line, std::string("unexpected \"") + describe(t) + "\" in " + context);
    }

    std::vector<Node> list(std::string& terminator, bool top) {
        std::vector<Node> nodes;
        while (true) {
            const Token& t = next();
            if (t.type == Tok::eof) {
                if (!top) fail(t.line, "unexpected EOF");
                terminator.clear();
                return nodes;
            }
            if (t.type == Tok::text) {
                nodes.push_back(Node{Node::kText, t.text, {}, {}, {}, t.line});
                continue;
            }
            const Token& word = peek_non_space();
            if (word.type == Tok::identifier && (word.text == "end" || word.text == "else")) {
                next();
                if (top) fail(word.line, "unexpected {{" + word.text + "}}");
                terminator = word.text;
                if (word.text == "end") expect_right("end");
                return nodes;
            }
            nodes.push_back(action());
        }
    }

    Node action() {
        const Token& t = next_non_space();
        const int line = t.line;
        if (t.type == Tok::identifier) {
            if (t.text == "if") return control(Node::kIf, "if", line);
            if (t.text == "range") return control(Node::kRange, "range", line);
            if (t.text == "with") return control(Node::kWith, "with", line);
            if (t.text == "break" || t.text == "continue") {
                if (range_depth_ == 0) fail(line, "{{" + t.text + "}} outside {{range}}");
                const auto kind = t.text == "break" ? Node::kBreak : Node::kContinue;
                expect_right(t.text.c_str());
                return Node{kind, "", {}, {}, {}, line};
            }
            if (t.text == "define" || t.text == "template" || t.text == "block")
                fail(line, "{{" + t.text + "}} is not supported");
        }
        backup();
        Node n{Node::kAction, "", pipeline("command", Tok::right), {}, {}, line};
        return n;
    }

    // Blocks, else-if chains and parentheses recurse here and again when executed: bounded.
    struct Nested {
        Parser& p;
        Nested(Parser& parser, int line) : p(parser) {
            if (++p.nesting_ > kMaxNesting)
                fail(line, "blocks and parentheses nested deeper than " +
                               std::to_string(kMaxNesting) + " levels");
        }
        ~Nested() { --p.nesting_; }
    };

    Node control(Node::Kind kind, const char* context, int line) {
        const Nested nested(*this, line);
        const std::size_t mark = vars_.size();
        Node n{kind, "", pipeline(context, Tok::right), {}, {}, line};
        if (kind == Node::kRange) ++range_depth_;
        std::string term;
        n.list = list(term, false);
        if (kind == Node::kRange) --range_depth_;
        if (term == "else") {
            const Token& after = peek_non_space();
            if (kind == Node::kIf && after.type == Tok::identifier && after.text == "if") {
                const int l = next().line;
                n.else_list.push_back(control(Node::kIf, "if", l));  // consumes the shared {{end}}
            } else {
                expect_right("else");
                n.else_list = list(term, false);
                if (term != "end") fail(peek().line, "expected end; found {{else}}");
            }
        }
        vars_.resize(mark);
        return n;
    }

    Pipeline pipeline(const std::string& context, Tok end) {
        Pipeline p;
        p.line = peek().line;
        // Declarations: $x := ..., $x = ..., and in range $i, $e := ...
        if (peek_non_space().type == Tok::variable) {
            const std::size_t save = i_;
            const Token v = next();
            const Token& after = peek_non_space();
            if (after.type == Tok::declare || after.type == Tok::assign) {
                p.assign = after.type == Tok::assign;
                next();
                p.decl.push_back(v.text);
            } else if (after.type == Tok::comma && context == "range") {
                next();
                const Token& v2 = next_non_space();
                if (v2.type != Tok::variable) fail(v2.line, "range can only initialize variables");
                const Token& op = next_non_space();
                if (op.type != Tok::declare) fail(op.line, "expected := in range declaration");
                p.decl.push_back(v.text);
                p.decl.push_back(v2.text);
            } else if (after.type == Tok::comma) {
                fail(after.line, "too many declarations in " + context);
            } else {
                i_ = save;
            }
            if (!p.assign)
                for (const auto& d : p.decl) vars_.push_back(d);
        }
        while (true) {
            const Token& t = next_non_space();
            if (t.type == end) {
                if (p.cmds.empty()) fail(t.line, "missing value for " + context);
                for (std::size_t k = 1; k < p.cmds.size(); ++k) {
                    const auto kind = p.cmds[k].args[0].kind;
                    if (kind == Arg::kLiteral || kind == Arg::kDot || kind == Arg::kNil)
                        fail(t.line,
                             "non executable command in pipeline stage " + std::to_string(k + 1));
                }
                return p;
            }
            switch (t.type) {
                case Tok::boolean:
                case Tok::dot:
                case Tok::field:
                case Tok::identifier:
                case Tok::number:
                case Tok::nil:
                case Tok::string:
                case Tok::variable:
                case Tok::lparen:
                    backup();
                    p.cmds.push_back(command());
                    break;
                default:
                    if (t.type == Tok::right && end == Tok::rparen)
                        fail(t.line, "unclosed left paren");
                    fail(t.line, std::string("unexpected \"") + describe(t) + "\" in " + context);
            }
        }
    }

    Command command() {
        Command c;
        while (true) {
            peek_non_space();
            if (auto a = operand()) c.args.push_back(std::move(*a));
            const Token& t = next();
            if (t.type == Tok::space) continue;
            if (t.type == Tok::right || t.type == Tok::rparen) {
                backup();
            } else if (t.type != Tok::pipe) {
                fail(t.line, std::string("unexpected \"") + describe(t) + "\" in operand");
            }
            break;
        }
        if (c.args.empty()) fail(peek().line, "empty command");
        return c;
    }

    std::optional<Arg> operand() {
        auto a = term();
        if (!a) return a;
        if (peek().type == Tok::field) {
            if (a->kind == Arg::kLiteral || a->kind == Arg::kNil || a->kind == Arg::kDot ||
                a->kind == Arg::kFunction)
                fail(peek().line, "unexpected . after term \"" + a->text() + "\"");
            while (peek().type == Tok::field) a->fields.push_back(next().text);
        }
        return a;
    }

    std::optional<Arg> term() {
        const Token& t = next_non_space();
        Arg a{};
        switch (t.type) {
            case Tok::identifier:
                if (is_keyword(t.text)) fail(t.line, "unexpected <" + t.text + "> in operand");
                if (const auto func = function_named(t.text)) {
                    a.kind = Arg::kFunction;
                    a.func = *func;
                    a.name = t.text;
                } else {
                    fail(t.line, "function \"" + t.text + "\" not defined");
                }
                return a;
            case Tok::dot:
                a.kind = Arg::kDot;
                return a;
            case Tok::nil:
                a.kind = Arg::kNil;
                return a;
            case Tok::variable: {
                bool known = t.text == "$";
                for (const auto& v : vars_) known = known || v == t.text;
                if (!known) fail(t.line, "undefined variable \"" + t.text + "\"");
                a.kind = Arg::kVariable;
                a.name = t.text;
                return a;
            }
            case Tok::field:
                a.kind = Arg::kField;
                a.fields.push_back(t.text);
                return a;
            case Tok::boolean:
                a.kind = Arg::kLiteral;
                a.literal = t.text == "true";
                return a;
            case Tok::number:
                a.kind = Arg::kLiteral;
                a.literal = parse_number(t.text, t.line);
                return a;
            case Tok::string:
                a.kind = Arg::kLiteral;
                a.literal = t.text;
                return a;
            case Tok::lparen: {
                const Nested nested(*this, t.line);
                a.kind = Arg::kPipe;
                a.sub = std::make_shared<Pipeline>(pipeline("parenthesized pipeline", Tok::rparen));
                return a;
            }
            default:
                backup();
                return std::nullopt;
        }
    }

    std::vector<Token> t_;
    std::size_t i_ = 0;
    std::vector<std::string> vars_;
    int range_depth_ = 0;
    int nesting_ = 0;
};

}  // namespace

Tree parse(std::vector<Token> tokens) {
    return Parser(std::move(tokens)).run();
}

}  // namespace bootcfg::template_detail
