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
