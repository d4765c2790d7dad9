#include "template/template.hpp"

#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>

#include "model/limits.hpp"
#include "template/go_format.hpp"

namespace bootcfg {

using nlohmann::json;

namespace template_detail {

// ---- lexer -------------------------------------------------------------------------------------

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

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_alnum(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           static_cast<unsigned char>(c) >= 0x80;
}

[[noreturn]] void fail(int line, std::string message) {
    throw TemplateError(std::move(message), line);
}

class Lexer {
  public:
    explicit Lexer(std::string_view in) : in_(in) {}

    std::vector<Token> run() {
        bool trim_next_text = false;
        while (pos_ < in_.size()) {
            auto open = in_.find("{{", pos_);
            std::string text(in_.substr(
                pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_));
            const int text_line = line_;
            count_lines(text);
            const bool trim_left = open != std::string_view::npos && open + 3 < in_.size() &&
                                   in_[open + 2] == '-' && is_space(in_[open + 3]);
            if (trim_next_text)
                text.erase(0, text.find_first_not_of(" \t\r\n") == std::string::npos
                                  ? text.size()
                                  : text.find_first_not_of(" \t\r\n"));
            if (trim_left) {
                const auto last = text.find_last_not_of(" \t\r\n");
                text.resize(last == std::string::npos ? 0 : last + 1);
            }
            trim_next_text = false;
            if (!text.empty()) out_.push_back({Tok::text, std::move(text), text_line});
            if (open == std::string_view::npos) break;
            pos_ = open + 2 + (trim_left ? 2 : 0);
            if (in_.substr(pos_, 2) == "/*") {
                trim_next_text = comment();
                continue;
            }
            out_.push_back({Tok::left, "{{", line_});
            trim_next_text = action();
        }
        out_.push_back({Tok::eof, "", line_});
        return std::move(out_);
    }

  private:
    void count_lines(std::string_view s) {
        for (char c : s)
            if (c == '\n') ++line_;
    }

    // At "}}" or " -}}"? Returns 0 if not, else the length to skip; sets trim.
    std::size_t at_right(bool& trim) const {
        if (in_.substr(pos_, 2) == "}}") {
            trim = false;
            return 2;
        }
        if (pos_ + 3 < in_.size() + 0 && is_space(in_[pos_]) && in_.substr(pos_ + 1, 3) == "-}}") {
            trim = true;
            return 4;
        }
        return 0;
    }

    bool comment() {
        const int start_line = line_;
        const auto end = in_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) fail(start_line, "unclosed comment");
        count_lines(in_.substr(pos_, end - pos_));
        pos_ = end + 2;
        bool trim = false;
        const auto skip = at_right(trim);
        if (!skip) fail(line_, "comment ends before closing delimiter");
        count_lines(in_.substr(pos_, skip));
        pos_ += skip;
        return trim;
    }

    bool action() {
        int parens = 0;
        while (true) {
            if (pos_ >= in_.size()) fail(line_, "unclosed action");
            bool trim = false;
            if (const auto skip = at_right(trim)) {
                // Go checks " -}}" here too; letting it through left the space loop stuck.
                if (parens > 0) fail(line_, "unclosed left paren");
                count_lines(in_.substr(pos_, skip));
                pos_ += skip;
                out_.push_back({Tok::right, "}}", line_});
                return trim;
            }
            const char c = in_[pos_];
            const int line = line_;
            if (is_space(c)) {
                const auto start = pos_;
                while (pos_ < in_.size() && is_space(in_[pos_])) {
                    bool t = false;
                    if (at_right(t) == 4) break;  // the space belongs to " -}}"
                    ++pos_;
                }
                count_lines(in_.substr(start, pos_ - start));
                if (pos_ > start) out_.push_back({Tok::space, " ", line});
                continue;
            }

            switch (c) {
                case '=':
                    emit(Tok::assign, 1);
                    continue;
                case ':':
                    if (in_.substr(pos_, 2) != ":=") fail(line, "expected :=");
                    emit(Tok::declare, 2);
                    continue;
                case '|':
                    emit(Tok::pipe, 1);
                    continue;
                case '(':
                    ++parens;
                    emit(Tok::lparen, 1);
                    continue;
                case ')':
                    if (--parens < 0) fail(line, "unexpected right paren");
                    emit(Tok::rparen, 1);
                    continue;
                case ',':
                    emit(Tok::comma, 1);
                    continue;
                case '"':
                    quoted();
                    continue;
                case '`':
                    raw();
                    continue;
                case '\'':
                    character();
                    continue;
                case '$': {
                    auto end = pos_ + 1;
                    while (end < in_.size() && is_alnum(in_[end])) ++end;
                    emit(Tok::variable, end - pos_);
                    continue;
                }
                default:
                    break;
            }
            if (c == '.' &&
                !(pos_ + 1 < in_.size() && in_[pos_ + 1] >= '0' && in_[pos_ + 1] <= '9')) {
                auto end = pos_ + 1;
                while (end < in_.size() && is_alnum(in_[end])) ++end;
                if (end == pos_ + 1)
                    emit(Tok::dot, 1);
                else {
                    out_.push_back(
                        {Tok::field, std::string(in_.substr(pos_ + 1, end - pos_ - 1)), line});
                    pos_ = end;
                }
                continue;
            }
            if (c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9')) {
                auto end = pos_ + 1;
                while (end < in_.size()) {
                    const char d = in_[end];
                    const char prev = in_[end - 1];
                    if (is_alnum(d) || d == '.' ||
                        ((d == '+' || d == '-') &&
                         (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P')))
                        ++end;
                    else
                        break;
                }
                emit(Tok::number, end - pos_);
                continue;
            }
            if (is_alnum(c)) {
                auto end = pos_;
                while (end < in_.size() && is_alnum(in_[end])) ++end;
                const std::string word(in_.substr(pos_, end - pos_));
                emit(word == "true" || word == "false" ? Tok::boolean
                     : word == "nil"                   ? Tok::nil
                                                       : Tok::identifier,
                     end - pos_);
                continue;
            }
            fail(line, std::string("unrecognized character in action: '") + c + "'");
        }
    }

    void emit(Tok t, std::size_t len) {
        out_.push_back({t, std::string(in_.substr(pos_, len)), line_});
        pos_ += len;
    }

    void quoted() {
        const int line = line_;
        std::string value;
        std::size_t i = pos_ + 1;
        while (true) {
            if (i >= in_.size() || in_[i] == '\n') fail(line, "unterminated quoted string");
            const char c = in_[i];
            if (c == '"') break;
            if (c != '\\') {
                value += c;
                ++i;
                continue;
            }
            if (i + 1 >= in_.size()) fail(line, "unterminated quoted string");
            const char e = in_[i + 1];
            i += 2;
            switch (e) {
                case 'n':
                    value += '\n';
                    break;
                case 't':
                    value += '\t';
                    break;
                case 'r':
                    value += '\r';
                    break;
                case 'a':
                    value += '\a';
                    break;
                case 'b':
                    value += '\b';
                    break;
                case 'f':
                    value += '\f';
                    break;
                case 'v':
                    value += '\v';
                    break;
                case '\\':
                    value += '\\';
                    break;
                case '"':
                    value += '"';
                    break;
                case 'x':
                case 'u':
                case 'U': {
                    const std::size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + n > in_.size()) fail(line, "bad escape in quoted string");
                    const std::string hex(in_.substr(i, n));
                    char* endp = nullptr;
                    const unsigned long v = std::strtoul(hex.c_str(), &endp, 16);
                    if (*endp) fail(line, "bad escape in quoted string");
                    i += n;
                    if (e == 'x')
                        value += static_cast<char>(v);
                    else
                        append_rune(value, v);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7' && i + 1 < in_.size()) {
                        const std::string oct(in_.substr(i - 1, 3));
                        value += static_cast<char>(std::strtoul(oct.c_str(), nullptr, 8));
                        i += 2;
                        break;
                    }
                    fail(line, std::string("unknown escape sequence: \\") + e);
            }
        }
        out_.push_back({Tok::string, std::move(value), line});
        pos_ = i + 1;
    }

    void raw() {
        const int line = line_;
        const auto end = in_.find('`', pos_ + 1);
        if (end == std::string_view::npos) fail(line, "unterminated raw quoted string");
        std::string value(in_.substr(pos_ + 1, end - pos_ - 1));
        count_lines(value);
        out_.push_back({Tok::string, std::move(value), line});
        pos_ = end + 1;
    }

    void character() {
        const int line = line_;
        std::size_t i = pos_ + 1;
        unsigned long rune = 0;
        if (i < in_.size() && in_[i] == '\\') {
            const char e = i + 1 < in_.size() ? in_[i + 1] : 0;
            static const std::string from = "ntrabfv\\'", to = "\n\t\r\a\b\f\v\\'";
            const auto k = from.find(e);
            if (k == std::string::npos) fail(line, "unsupported escape in character constant");
            rune = static_cast<unsigned char>(to[k]);
            i += 2;
        } else if (i < in_.size()) {
            const auto c = static_cast<unsigned char>(in_[i]);
            const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
            rune = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
            for (int k = 1; k < len && i + k < in_.size(); ++k)
                rune = (rune << 6) | (static_cast<unsigned char>(in_[i + k]) & 0x3F);
            i += len;
        }
        if (i >= in_.size() || in_[i] != '\'') fail(line, "unterminated character constant");
        out_.push_back({Tok::number, "'" + std::to_string(rune), line});
        pos_ = i + 1;
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    int line_ = 1;
    std::vector<Token> out_;
};

// ---- tree --------------------------------------------------------------------------------------

struct Pipeline;

struct Arg {
    enum Kind { kField, kVariable, kDot, kNil, kLiteral, kFunction, kPipe } kind;
    std::string name;                 // variable or function name
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

const char* const kFunctions[] = {"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len",
                                  "index", "print", "printf", "println", "urlquery", "js", "html",
                                  // bootcfg extensions (not in Go or matchbox): quoting for the
                                  // format a template writes, so a label cannot add lines or keys.
                                  "toJson", "yamlQuote", "shellQuote"};

bool is_function(const std::string& name) {
    for (const char* f : kFunctions)
        if (name == f) return true;
    return false;
}

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
                if (!is_function(t.text)) fail(t.line, "function \"" + t.text + "\" not defined");
                a.kind = Arg::kFunction;
                a.name = t.text;
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

// ---- execution ---------------------------------------------------------------------------------

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

enum class Flow { normal, break_, continue_ };

bool truth(const Value& v) {
    if (!v.valid()) return false;
    const json& j = *v.p;
    if (j.is_boolean()) return j.get<bool>();
    if (j.is_number_float()) return j.get<double>() != 0;
    if (j.is_number()) return j.get<long long>() != 0;
    if (j.is_string()) return !j.get_ref<const std::string&>().empty();
    return !j.empty();
}

enum class Kind { invalid, boolean, integer, floating, string, other };

Kind kind_of(const Value& v) {
    if (!v.valid()) return Kind::invalid;
    const json& j = *v.p;
    if (j.is_boolean()) return Kind::boolean;
    if (j.is_number_float()) return Kind::floating;
    if (j.is_number()) return Kind::integer;
    if (j.is_string()) return Kind::string;
    return Kind::other;
}

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
                return call(dot, first.name, args, final);
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
                return call(dot, a.name, {}, nullptr);
            case Arg::kDot:
                return dot;
            case Arg::kNil:
                return {};
            case Arg::kLiteral:
                return Value::of(a.literal);
        }
        return {};
    }

    void arity(const std::string& name, std::size_t got, std::size_t want, bool at_least) const {
        if (at_least ? got < want : got != want)
            error("wrong number of args for " + name + ": want " + (at_least ? "at least " : "") +
                  std::to_string(want) + " got " + std::to_string(got));
    }

    Value call(const Value& dot, const std::string& name, const std::vector<const Arg*>& args,
               const Value* final) {
        if (name == "and" || name == "or") {
            arity(name, args.size() + (final ? 1 : 0), 1, true);
            Value v;
            for (const Arg* a : args) {
                v = arg(dot, *a);
                if (truth(v) == (name == "or")) return v;
            }
            return final ? *final : v;
        }
        std::vector<Value> values;
        for (const Arg* a : args) values.push_back(arg(dot, *a));
        if (final) values.push_back(*final);
        try {
            return builtin(name, values);
        } catch (const TemplateError&) {
            throw;
        }
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

    Value builtin(const std::string& name, const std::vector<Value>& v) {
        std::vector<const json*> ptrs;
        for (const auto& x : v) ptrs.push_back(x.valid() ? x.p : nullptr);
        if (name == "not") {
            arity(name, v.size(), 1, false);
            return Value::of(!truth(v[0]));
        }
        if (name == "eq") {
            arity(name, v.size(), 1, true);
            return Value::of(eq(name, v));
        }
        if (name == "ne") {
            arity(name, v.size(), 2, false);
            return Value::of(!eq(name, v));
        }
        if (name == "lt" || name == "le" || name == "gt" || name == "ge") {
            arity(name, v.size(), 2, false);
            const bool less = lt(name, v[0], v[1]);
            if (name == "lt") return Value::of(less);
            const bool le = less || eq(name, v);
            return Value::of(name == "le" ? le : name == "gt" ? !le : !less);
        }
        if (name == "len") {
            arity(name, v.size(), 1, false);
            if (!v[0].valid()) call_error(name, "len of nil pointer");
            const json& j = *v[0].p;
            if (j.is_string())
                return Value::of(static_cast<long long>(j.get_ref<const std::string&>().size()));
            if (j.is_array() || j.is_object()) return Value::of(static_cast<long long>(j.size()));
            call_error(name, "len of type " + go_type_name(v[0].p));
        }
        if (name == "index") {
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
        if (name == "toJson") {
            arity(name, v.size(), 1, false);
            return Value::of(v[0].valid() ? json_text(*v[0].p) : std::string("null"));
        }
        if (name == "yamlQuote") {
            // A JSON string is a YAML double-quoted scalar (control bytes as \u escapes).
            return Value::of(
                json(eval_args(v)).dump(-1, ' ', false, json::error_handler_t::replace));
        }
        if (name == "shellQuote") {
            std::string out = "'";
            for (char c : eval_args(v)) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
            return Value::of(out + "'");
        }
        if (name == "print") return Value::of(go_sprint(ptrs));
        if (name == "println") return Value::of(go_sprintln(ptrs));
        if (name == "printf") {
            arity(name, v.size(), 1, true);
            if (!v[0].valid()) error("invalid value; expected string");
            if (!v[0].p->is_string())
                error("wrong type for value; expected string; got " + go_type_name(v[0].p));
            return Value::of(go_sprintf(v[0].p->get<std::string>(),
                                        std::vector<const json*>(ptrs.begin() + 1, ptrs.end())));
        }
        if (name == "urlquery") {
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
        if (name == "html") return Value::of(go_html_escape(eval_args(v)));
        if (name == "js") {
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

    const json& root_;
    std::string out_;
    std::vector<std::pair<std::string, Value>> vars_;
    int line_ = 0;
};

}  // namespace template_detail

Template Template::parse(std::string_view text) {
    using namespace template_detail;
    Template t;
    t.tree_ = std::make_shared<const Tree>(Parser(Lexer(text).run()).run());
    return t;
}

std::string Template::render(const json& data) const {
    return template_detail::Exec(data).run(tree_->root);
}

json as_go_json(json value) {
    if (value.is_number_integer() || value.is_number_unsigned()) return json(value.get<double>());
    if (value.is_array() || value.is_object())
        for (auto& e : value) e = as_go_json(std::move(e));
    return value;
}

}  // namespace bootcfg
