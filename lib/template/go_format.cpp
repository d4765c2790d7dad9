#include "template/go_format.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace bootcfg::template_detail {

using nlohmann::json;

namespace {

bool is_nil(const json* v) {
    return !v || v->is_null();
}
bool is_int(const json* v) {
    return v && (v->is_number_integer() || v->is_number_unsigned());
}
bool is_float(const json* v) {
    return v && v->is_number_float();
}
long long as_int(const json* v) {
    return v->is_number_unsigned() ? static_cast<long long>(v->get<unsigned long long>())
                                   : v->get<long long>();
}

// Shortest round-trip digits of |f| and the decimal point position: f = 0.DIGITS * 10^point.
void shortest_digits(double f, std::string& digits, int& point) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(f), std::chars_format::scientific);
    const std::string s(buf, res.ptr);
    const auto e = s.find('e');
    const std::string mantissa = s.substr(0, e);
    digits.clear();
    for (char c : mantissa)
        if (c != '.') digits += c;
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    point = std::stoi(s.substr(e + 1)) + 1;
}

std::string exp_suffix(int exp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return buf;
}

// Decodes one UTF-8 rune at s[i]; returns its length, 0 if invalid.
int decode_rune(const std::string& s, std::size_t i, unsigned long& r) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    r = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc >> 6) != 2) return 0;
        r = (r << 6) | (cc & 0x3F);
    }
    static const unsigned long min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (r < min_for_len[len] || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return 0;
    return len;
}

// unicode.IsPrint for the code points likely in configs: controls and format characters are not.
bool rune_printable(unsigned long r) {
    if (r < 0x20 || (r >= 0x7F && r <= 0x9F) || r == 0xAD) return false;
    if ((r >= 0x200B && r <= 0x200F) || (r >= 0x2028 && r <= 0x202E) ||
        (r >= 0x2060 && r <= 0x2064) || r == 0xFEFF)
        return false;
    return true;
}

struct Spec {
    bool minus = false, plus = false, sharp = false, space = false, zero = false;
    int width = -1, precision = -1;
    char verb = 'v';
};

std::string sprint_container(const json* v, const Spec& spec);

std::string pad(std::string s, const Spec& spec, bool numeric) {
    if (spec.width < 0) return s;
    // Width counts runes, as Go does.
    std::size_t runes = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++runes;
    if (runes >= static_cast<std::size_t>(spec.width)) return s;
    const std::size_t n = spec.width - runes;
    if (spec.minus) return s + std::string(n, ' ');
    if (spec.zero) {
        // Zeros go after a sign.
        std::size_t at =
            numeric && !s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
        return s.insert(at, std::string(n, '0'));
    }
    return std::string(n, ' ') + s;
}

std::string format_one(const json* v, const Spec& spec);

// Go prints the operand as %v with the directive's flags, width and precision.
std::string bad_verb(const Spec& spec, const json* v) {
    if (is_nil(v)) return std::string("%!") + spec.verb + "(<nil>)";
    Spec as_v = spec;
    as_v.verb = 'v';
    return std::string("%!") + spec.verb + "(" + go_type_name(v) + "=" + format_one(v, as_v) + ")";
}

std::string format_int(long long n, const Spec& spec, int base, bool upper) {
    std::string digits;
    unsigned long long u = n < 0 ? 0ULL - static_cast<unsigned long long>(n) : n;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits.insert(digits.begin(), set[u % base]);
        u /= base;
    } while (u);
    if (spec.precision >= 0 && digits.size() < static_cast<std::size_t>(spec.precision))
        digits.insert(0, spec.precision - digits.size(), '0');
    if (spec.sharp && base == 16) digits.insert(0, upper ? "0X" : "0x");
    if (n < 0)
        digits.insert(0, "-");
    else if (spec.plus)
        digits.insert(0, "+");
    else if (spec.space)
        digits.insert(0, " ");
    return digits;
}

// strconv.FormatFloat(f, 'x', prec, 64): -0x1.8p+01. prec < 0: as few hex digits as needed.
std::string hex_float(double f, int prec, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string s = std::signbit(f) ? "-" : "";
    s += upper ? "0X" : "0x";
    int exp = 0;
    std::uint64_t mant = 0;  // 1 integer bit at bit 60, 60 fraction bits
    if (f != 0) {
        const double m = std::frexp(std::fabs(f), &exp);  // m in [0.5, 1)
        mant = static_cast<std::uint64_t>(std::ldexp(m, 61));
        --exp;
    }
    if (prec >= 0 && prec < 15) {
        const unsigned shift = static_cast<unsigned>(prec) * 4;
        const std::uint64_t extra = (mant << shift) & ((std::uint64_t{1} << 60) - 1);
        mant >>= 60 - shift;
        if ((extra | (mant & 1)) > (std::uint64_t{1} << 59)) ++mant;
        mant <<= 60 - shift;
        if (mant & (std::uint64_t{1} << 61)) {
            mant >>= 1;
            ++exp;
        }
    }
    s += digits[(mant >> 60) & 1];
    mant <<= 4;  // drop the integer bit; fraction digits now start at bit 63
    std::string frac;
    const int n = prec < 0 ? 15 : prec;
    for (int i = 0; i < n; ++i) {
        frac += i < 15 ? digits[(mant >> 60) & 15] : '0';
        mant <<= 4;
    }
    if (prec < 0)
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
    if (!frac.empty()) s += "." + frac;
    s += upper ? 'P' : 'p';
    s += exp < 0 ? '-' : '+';
    const int e = std::abs(exp);
    if (e < 10) s += '0';
    s += std::to_string(e);
    return s;
}

std::string format_float(double f, const Spec& spec) {
    char verb = spec.verb == 'v' ? 'g' : spec.verb;
    std::string s;
    if (std::isnan(f)) {
        s = "NaN";
    } else if (std::isinf(f)) {
        s = f > 0 ? "+Inf" : "-Inf";
    } else if ((verb == 'g' || verb == 'G') && spec.precision < 0) {
        s = go_format_float(f);
        if (verb == 'G')
            for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else if (verb == 'x' || verb == 'X') {
        s = hex_float(f, spec.precision, verb == 'X');
    } else {
        char fmt[16];
        std::snprintf(fmt, sizeof fmt, "%%.%d%c", spec.precision < 0 ? 6 : spec.precision, verb);
        // Precision goes up to 1e6 (Go's limit), so size the buffer from the first pass.
        s.resize(static_cast<std::size_t>(std::snprintf(nullptr, 0, fmt, f)));
        std::snprintf(s.data(), s.size() + 1, fmt, f);
    }
    if (!s.empty() && s[0] != '-' && s[0] != '+') {
        if (spec.plus)
            s.insert(0, "+");
        else if (spec.space)
            s.insert(0, " ");
    }
    return s;
}

std::string format_one(const json* v, const Spec& spec) {
    const char verb = spec.verb;
    // Go formats each element with the directive (any verb, width included).
    if (v && (v->is_array() || v->is_object())) return sprint_container(v, spec);
    switch (verb) {
        case 'v':
            if (is_float(v)) return pad(format_float(v->get<double>(), spec), spec, true);
            if (is_int(v)) return pad(format_int(as_int(v), spec, 10, false), spec, true);
            return pad(go_sprint_value(v), spec, false);
        case 's':
            if (v && v->is_string()) {
                std::string s = v->get<std::string>();
                if (spec.precision >= 0) {
                    std::size_t i = 0;
                    int runes = 0;
                    while (i < s.size() && runes < spec.precision) {
                        ++i;
                        while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80)
                            ++i;
                        ++runes;
                    }
                    s.resize(i);
                }
                return pad(s, spec, false);
            }
            return bad_verb(spec, v);
        case 'q':
            if (v && v->is_string()) return pad(go_quote(v->get<std::string>()), spec, false);
            if (is_int(v)) {
                std::string r;
                append_rune(r, static_cast<unsigned long>(as_int(v)));
                std::string q = go_quote(r);
                return pad("'" + q.substr(1, q.size() - 2) + "'", spec, false);
            }
            return bad_verb(spec, v);
        case 'd':
            if (is_int(v)) return pad(format_int(as_int(v), spec, 10, false), spec, true);
            return bad_verb(spec, v);
        case 'x':
        case 'X':
            if (is_int(v)) return pad(format_int(as_int(v), spec, 16, verb == 'X'), spec, true);
            if (is_float(v)) return pad(format_float(v->get<double>(), spec), spec, true);

            if (v && v->is_string()) {
                std::string out;
                const char* set = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
                for (unsigned char c : v->get_ref<const std::string&>()) {
                    out += set[c >> 4];
                    out += set[c & 15];
                }
                return pad(out, spec, false);
            }
            return bad_verb(spec, v);
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (is_float(v)) return pad(format_float(v->get<double>(), spec), spec, true);
            return bad_verb(spec, v);
        case 't':
            if (v && v->is_boolean()) return pad(v->get<bool>() ? "true" : "false", spec, false);
            return bad_verb(spec, v);
        case 'c':
            if (is_int(v)) {
                std::string r;
                append_rune(r, static_cast<unsigned long>(as_int(v)));
                return pad(r, spec, false);
            }
            return bad_verb(spec, v);
        default:
            return bad_verb(spec, v);
    }
}

std::string sprint_container(const json* v, const Spec& spec) {
    // A nil element prints as <nil> whatever the verb (fmt's printValue for interface values).
    auto element = [&](const json& e) {
        return e.is_null() ? std::string("<nil>") : format_one(&e, spec);
    };
    std::string out;
    if (v->is_array()) {
        out = "[";
        bool first = true;
        for (const auto& e : *v) {
            if (!first) out += ' ';
            first = false;
            out += element(e);
        }
        return out + "]";
    }
    out = "map[";
    bool first = true;
    for (const auto& [k, e] : v->items()) {  // nlohmann objects iterate in key order, like fmt
        if (!first) out += ' ';
        first = false;
        json key = k;
        out += element(key);
        out += ':';
        out += element(e);
    }
    return out + "]";
}

}  // namespace

void append_rune(std::string& out, unsigned long r) {
    if (r < 0x80) {
        out += static_cast<char>(r);
    } else if (r < 0x800) {
        out += static_cast<char>(0xC0 | (r >> 6));
        out += static_cast<char>(0x80 | (r & 0x3F));
    } else if (r < 0x10000) {
        out += static_cast<char>(0xE0 | (r >> 12));
        out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (r & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (r >> 18));
        out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (r & 0x3F));
    }
}

std::string go_format_float(double f) {
    if (std::isnan(f)) return "NaN";
    if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
    if (f == 0) return std::signbit(f) ? "-0" : "0";
    std::string digits;
    int point = 0;
    shortest_digits(f, digits, point);
    const int exp = point - 1;
    std::string out = f < 0 ? "-" : "";
    // Shortest form switches to an exponent outside [1e-4, 1e6), like strconv's 'g' with -1.
    if (exp < -4 || exp >= 6) {
        out += digits[0];
        if (digits.size() > 1) out += "." + digits.substr(1);
        return out + exp_suffix(exp);
    }
    if (point <= 0) return out + "0." + std::string(-point, '0') + digits;
    if (point >= static_cast<int>(digits.size()))
        return out + digits + std::string(point - digits.size(), '0');
    return out + digits.substr(0, point) + "." + digits.substr(point);
}

std::string go_type_name(const json* v) {
    if (is_nil(v)) return "<nil>";
    if (v->is_string()) return "string";
    if (v->is_boolean()) return "bool";
    if (is_int(v)) return "int";
    if (is_float(v)) return "float64";
    if (v->is_array()) return "[]interface {}";
    return "map[string]interface {}";
}

std::string go_sprint_value(const json* v) {
    if (is_nil(v)) return "<nil>";
    if (v->is_string()) return v->get<std::string>();
    if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
    if (is_int(v)) return std::to_string(as_int(v));
    if (is_float(v)) return go_format_float(v->get<double>());
    Spec plain;
    plain.verb = 'v';
    return sprint_container(v, plain);
}

std::string go_sprint(const std::vector<const json*>& args) {
    std::string out;
    bool prev_string = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const bool is_string = args[i] && args[i]->is_string();
        if (i > 0 && !is_string && !prev_string) out += ' ';
        out += go_sprint_value(args[i]);
        prev_string = is_string;
    }
    return out;
}

std::string go_sprintln(const std::vector<const json*>& args) {
    std::string out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (i > 0) out += ' ';
        out += go_sprint_value(args[i]);
    }
    return out + "\n";
}

std::string go_sprintf(const std::string& format, const std::vector<const json*>& args) {
    std::string out;
    std::size_t arg = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out += format[i];
            continue;
        }
        Spec spec;
        ++i;
        for (; i < format.size(); ++i) {
            const char c = format[i];
            if (c == '-')
                spec.minus = true, spec.zero = false;
            else if (c == '+')
                spec.plus = true;
            else if (c == '#')
                spec.sharp = true;
            else if (c == ' ')
                spec.space = true;
            else if (c == '0')
                spec.zero = !spec.minus;
            else
                break;
        }
        // Go's fmt: numbers beyond +-1e6 are "crazy": a literal one swallows the rest of the
        // format (then NOVERB), one from an argument reads as BADWIDTH / BADPREC.
        auto too_large = [](long long x) { return x > 1000000 || x < -1000000; };
        auto number_from_arg = [&](int& into) {
            bool ok = false;
            if (arg < args.size()) {
                if (is_int(args[arg]) && !too_large(as_int(args[arg]))) {
                    into = static_cast<int>(as_int(args[arg]));
                    ok = true;
                }
                ++arg;
            }
            return ok;
        };
        auto literal_number = [&](int& into) {
            long long n = -1;
            while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
                if (too_large(n)) {
                    i = format.size();
                    n = -1;
                    break;
                }
                n = (n < 0 ? 0 : n * 10) + (format[i++] - '0');
            }
            into = static_cast<int>(n);
        };
        if (i < format.size() && format[i] == '*') {
            ++i;
            if (!number_from_arg(spec.width)) {
                spec.width = -1;
                out += "%!(BADWIDTH)";
            }
            if (spec.width < -1) {
                spec.minus = true;
                spec.zero = false;
                spec.width = -spec.width;
            }
        } else {
            literal_number(spec.width);
        }
        if (i + 1 < format.size() && format[i] == '.') {
            ++i;
            if (i < format.size() && format[i] == '*') {
                ++i;
                if (!number_from_arg(spec.precision) || spec.precision < 0) {
                    spec.precision = -1;
                    out += "%!(BADPREC)";
                }
            } else {
                literal_number(spec.precision);
                if (spec.precision < 0) spec.precision = 0;
            }
        }

        if (i >= format.size()) {
            out += "%!(NOVERB)";
            break;
        }
        spec.verb = format[i];
        if (spec.verb == '%') {
            out += '%';
            continue;
        }
        if (arg >= args.size()) {
            out += std::string("%!") + spec.verb + "(MISSING)";
            continue;
        }
        out += format_one(args[arg++], spec);
    }
    if (arg < args.size()) {
        out += "%!(EXTRA ";
        for (std::size_t k = arg; k < args.size(); ++k) {
            if (k > arg) out += ", ";
            out += go_type_name(args[k]) + "=" + go_sprint_value(args[k]);
        }
        out += ")";
    }
    return out;
}

std::string go_quote(const std::string& s) {
    std::string out = "\"";
    static const char* hex = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '\a':
                    out += "\\a";
                    break;
                case '\b':
                    out += "\\b";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\v':
                    out += "\\v";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '"':
                    out += "\\\"";
                    break;
                default:
                    if (c < 0x20 || c == 0x7F) {
                        out += "\\x";
                        out += hex[c >> 4];
                        out += hex[c & 15];
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        unsigned long r = 0;
        const int len = decode_rune(s, i, r);
        if (len == 0) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
            ++i;
            continue;
        }
        if (rune_printable(r)) {
            out.append(s, i, len);
        } else {
            char buf[32];
            if (r < 0x10000)
                std::snprintf(buf, sizeof buf, "\\u%04lx", r);
            else
                std::snprintf(buf, sizeof buf, "\\U%08lx", r);
            out += buf;
        }
        i += len;
    }
    return out + "\"";
}

std::string go_html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '\0':
                out += "\xEF\xBF\xBD";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace bootcfg::template_detail
