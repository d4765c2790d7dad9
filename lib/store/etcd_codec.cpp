#include "store/etcd_codec.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <charconv>

#include "store/data_files.hpp"

namespace bootcfg::etcd {

using nlohmann::json;

namespace {

// A proto3 JSON int64: a string of digits (or a number, which some gateways send); absent is 0.
std::optional<std::int64_t> int64_of(const json& doc, const char* key) {
    const auto it = doc.find(key);
    if (it == doc.end()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (!it->is_string()) return std::nullopt;
    const std::string& s = it->get_ref<const std::string&>();
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return value;
}

bool flag_of(const json& doc, const char* key) {
    const auto it = doc.find(key);
    return it != doc.end() && it->is_boolean() && it->get<bool>();
}

Result<json> object_body(std::string_view body, const char* what) {
    auto doc = parse_json(std::string(body));
    if (!doc) return fail(std::string(what) + ": " + doc.failure().reason);
    if (!doc->is_object()) return fail(std::string(what) + ": not a JSON object");
    return std::move(*doc);
}

Result<KeyValue> key_value_of(const json& kv) {
    if (!kv.is_object()) return fail("a kv is not an object");
    KeyValue out;
    for (auto [field, into] : {std::pair{"key", &out.key}, std::pair{"value", &out.value}}) {
        const auto it = kv.find(field);
        if (it == kv.end()) continue;  // proto3: empty
        if (!it->is_string()) return fail(std::string("kv ") + field + " is not a string");
        auto decoded = base64_decode(it->get_ref<const std::string&>());
        if (!decoded) return fail(std::string("kv ") + field + " is not base64");
        *into = std::move(*decoded);
    }
    const auto mod = int64_of(kv, "mod_revision");
    if (!mod) return fail("kv mod_revision is not a number");
    out.mod_revision = *mod;
    return out;
}

Result<std::int64_t> header_revision(const json& doc) {
    const auto it = doc.find("header");
    if (it == doc.end() || !it->is_object()) return fail("no header");
    const auto revision = int64_of(*it, "revision");
    if (!revision) return fail("header revision is not a number");
    return *revision;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    // Padding only at the end, at most two; no whitespace (EVP_DecodeBlock would skip it).
    const std::size_t data = text.find_last_not_of('=') + 1;
    if (text.size() - data > 2 || text.substr(0, data).find('=') != std::string_view::npos)
        return std::nullopt;
    for (char c : text.substr(0, data))
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return std::nullopt;
    std::string out(3 * text.size() / 4, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes.
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') ++pad;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        if (static_cast<unsigned char>(end.back()) != 0xff) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

std::string key_of(std::string_view prefix, const ObjectRef& ref) {
    return std::string(prefix) + kind_name(ref.kind) + "/" + ref.name;
}

std::optional<ObjectRef> object_of(std::string_view prefix, std::string_view key) {
    if (!key.starts_with(prefix)) return std::nullopt;
    key.remove_prefix(prefix.size());
    const auto slash = key.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto kind = kind_from_name(key.substr(0, slash));
    const std::string_view name = key.substr(slash + 1);
    if (!kind || !valid_name(name)) return std::nullopt;
    return ObjectRef{*kind, std::string(name)};
}

namespace {

// A range answer read without building its document: a page of thousands of keys is most of a
// large store's start-up. Anything unexpected leaves `usable` false, and the document parser
// below reports it precisely.
class RangeReader final : public nlohmann::json_sax<json> {
  public:
    RangePage page;
    bool usable = true;
    bool header_seen = false;

    bool null() override { return odd(); }
    bool boolean(bool value) override {
        if (depth_ == 1 && key_ == "more") page.more = value;
        return in_kv() || in_header() ? odd() : true;
    }
    bool number_integer(number_integer_t value) override { return number(value); }
    bool number_unsigned(number_unsigned_t value) override {
        return number(static_cast<std::int64_t>(value));
    }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t& value) override {
        if (in_header()) {
            if (key_ == "revision") return set(page.revision, value);
        } else if (in_kv()) {
            if (key_ == "key" || key_ == "value") {
                auto decoded = base64_decode(value);
                if (!decoded) return odd();
                (key_ == "key" ? kv_.key : kv_.value) = std::move(*decoded);
            } else if (key_ == "mod_revision") {
                return set(kv_.mod_revision, value);
            }
        }
        return true;
    }
    bool binary(binary_t&) override { return odd(); }
    bool start_object(std::size_t) override {
        ++depth_;
        if (depth_ == 2 && top_ == "header") header_seen = true;
        if (depth_ == 3 && in_kvs_) kv_ = {};
        if (depth_ > 3 || (depth_ == 3 && !in_kvs_) || (depth_ == 2 && top_ != "header"))
            return odd();
        return true;
    }
    bool end_object() override {
        if (depth_ == 3) page.kvs.push_back(std::move(kv_));
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override {
        ++depth_;
        if (depth_ != 2 || top_ != "kvs") return odd();
        in_kvs_ = true;
        return true;
    }
    bool end_array() override {
        in_kvs_ = false;
        --depth_;
        return true;
    }
    bool key(string_t& name) override {
        if (depth_ == 1) top_ = name;
        key_ = std::move(name);
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return odd();
    }

  private:
    bool in_header() const { return depth_ == 2 && top_ == "header"; }
    bool in_kv() const { return depth_ == 3 && in_kvs_; }
    bool odd() {
        usable = false;
        return false;
    }
    bool number(std::int64_t value) {
        if (in_header() && key_ == "revision") page.revision = value;
        if (in_kv() && key_ == "mod_revision") kv_.mod_revision = value;
        if (in_kv() && (key_ == "key" || key_ == "value")) return odd();
        return true;
    }
    bool set(std::int64_t& into, const std::string& text) {
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), into);
        return ec == std::errc() && end == text.data() + text.size() && !text.empty() ? true
                                                                                      : odd();
    }
    int depth_ = 0;
    bool in_kvs_ = false;
    std::string top_;  // the key at the top level being read
    std::string key_;
    KeyValue kv_;
};

}  // namespace

Result<RangePage> parse_range(std::string_view body) {
    RangeReader reader;
    if (json::sax_parse(body, &reader) && reader.usable && reader.header_seen)
        return std::move(reader.page);
    auto doc = object_body(body, "range");
    if (!doc) return doc.failure();
    RangePage page;
    auto revision = header_revision(*doc);
    if (!revision) return fail("range: " + revision.failure().reason);
    page.revision = *revision;
    if (const auto kvs = doc->find("kvs"); kvs != doc->end()) {
        if (!kvs->is_array()) return fail("range: kvs is not a list");
        for (const auto& item : *kvs) {
            auto kv = key_value_of(item);
            if (!kv) return fail("range: " + kv.failure().reason);
            page.kvs.push_back(std::move(*kv));
        }
    }
    page.more = flag_of(*doc, "more");
    return page;
}

json txn_request(const std::vector<TxnOp>& ops) {
    json compare = json::array(), success = json::array();
    for (const TxnOp& op : ops) {
        const std::string key = base64_encode(op.key);
        if (op.mod_revision)
            compare.push_back({{"key", key},
                               {"target", "MOD"},
                               {"result", "EQUAL"},
                               {"mod_revision", std::to_string(*op.mod_revision)}});
        if (op.value)
            success.push_back(
                {{"request_put", {{"key", key}, {"value", base64_encode(*op.value)}}}});
        else
            success.push_back({{"request_delete_range", {{"key", key}}}});
    }
    return {{"compare", compare}, {"success", success}};
}

Result<TxnResult> parse_txn(std::string_view body) {
    auto doc = object_body(body, "txn");
    if (!doc) return doc.failure();
    auto revision = header_revision(*doc);
    if (!revision) return fail("txn: " + revision.failure().reason);
    return TxnResult{flag_of(*doc, "succeeded"), *revision};
}

json watch_request(std::string_view prefix, std::int64_t start_revision) {
    return {{"create_request",
             {{"key", base64_encode(prefix)},
              {"range_end", base64_encode(prefix_end(prefix))},
              {"start_revision", std::to_string(start_revision)}}}};
}

Result<WatchMessage> parse_watch_line(std::string_view line) {
    auto doc = object_body(line, "watch");
    if (!doc) return doc.failure();
    const auto result = doc->find("result");
    if (result == doc->end() || !result->is_object()) {
        // The gateway reports a broken stream as {"error": {...}}.
        if (const auto error = doc->find("error"); error != doc->end() && error->is_object()) {
            const auto message = error->find("message");
            return fail("watch: " + (message != error->end() && message->is_string()
                                         ? message->get<std::string>()
                                         : std::string("error")));
        }
        return fail("watch: no result");
    }
    WatchMessage message;
    auto revision = header_revision(*result);
    if (!revision) return fail("watch: " + revision.failure().reason);
    message.revision = *revision;
    message.created = flag_of(*result, "created");
    message.canceled = flag_of(*result, "canceled");
    if (const auto reason = result->find("cancel_reason");
        reason != result->end() && reason->is_string())
        message.cancel_reason = reason->get<std::string>();
    const auto compacted = int64_of(*result, "compact_revision");
    if (!compacted) return fail("watch: compact_revision is not a number");
    message.compact_revision = *compacted;
    if (const auto events = result->find("events"); events != result->end()) {
        if (!events->is_array()) return fail("watch: events is not a list");
        for (const auto& e : *events) {
            if (!e.is_object()) return fail("watch: an event is not an object");
            WatchEvent event;
            const auto type = e.find("type");  // absent: PUT (proto3 default)
            if (type != e.end()) {
                if (!type->is_string()) return fail("watch: event type is not a string");
                if (*type == "DELETE")
                    event.deleted = true;
                else if (*type != "PUT")
                    return fail("watch: unknown event type " + type->get<std::string>());
            }
            const auto kv = e.find("kv");
            if (kv == e.end()) return fail("watch: an event has no kv");
            auto parsed = key_value_of(*kv);
            if (!parsed) return fail("watch: " + parsed.failure().reason);
            event.kv = std::move(*parsed);
            message.events.push_back(std::move(event));
        }
    }
    return message;
}

}  // namespace bootcfg::etcd
