#include "template/lex.hpp"

#include "template/go_format.hpp"

namespace bootcfg::template_detail {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_alnum(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           static_cast<unsigned char>(c) >= 0x80;
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

}  // namespace

std::vector<Token> lex(std::string_view text) {
    return Lexer(text).run();
}

}  // namespace bootcfg::template_detail
