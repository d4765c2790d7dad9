// Command-line flags shared by every `bootcfg` command: --name VALUE, --name=VALUE, -name (Go
// style, as LinuxKit and bootcfgd spell them), booleans as --name or --name=false, "--" ends flags.
#pragma once

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace bootcfg {

// A command line that cannot be run: exit 2 with this one line.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct FlagSpec {
    FlagSpec(const char* name_, bool takes_value_ = true, const char* alias_ = "")
        : name(name_), takes_value(takes_value_), alias(alias_) {}
    std::string name;  // "--endpoint", "-o"
    bool takes_value;
    std::string alias;  // another spelling ("--output" for "-o")
};

class ParsedFlags {
  public:
    std::vector<std::string> words;  // positional arguments, in order
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    // The last value given (flags given twice: the later one wins).
    std::string get(const std::string& name, const std::string& fallback = "") const;
    const std::vector<std::string>& all(const std::string& name) const;
    // A boolean flag: absent → fallback; "--x" → true; "--x=false|0|no" → false.
    bool flag(const std::string& name, bool fallback = false) const;
    void add(const std::string& name, std::string value) {
        values_[name].push_back(std::move(value));
    }

  private:
    std::map<std::string, std::vector<std::string>> values_;
};

// `bootcfg --endpoint X group list`: the connection flags every admin and provider command
// takes (--endpoint, --ca-file, --cert-file, --key-file, --token-file, -o/--output) may come
// before the command; they are moved after its words, where each command parses them.
void move_global_flags(std::vector<std::string>& args);

// Throws UsageError naming the flag: unknown flags, a missing value, a bad boolean.
ParsedFlags parse_flags(const std::vector<std::string>& args, const std::vector<FlagSpec>& spec);

// --token-file: "NAME TOKEN" (the server's token file line) or just "TOKEN".
std::string token_from_file(const std::string& path);
// A password in a file (its first line, without the line end) that only its owner may read;
// UsageError naming the flag and file otherwise.
std::string password_from_file(const std::string& flag, const std::string& path);

// A machine's BMC as `machine set-bmc` and `run ipmi|redfish` take it: --bmc, --user,
// --password-file, --ipmi-workarounds, --cipher-suite, --bmc-ca-file, --insecure.
struct BmcFlags {
    std::string url, user, password_file, ipmi_workarounds, cipher_suite, ca_file;
    bool insecure = false;

    static BmcFlags from(const ParsedFlags& f);
    bool any() const;
    // The admin API's body for PUT /api/v1/machines/MAC/bmc (the password read from its file);
    // UsageError naming a flag that is wrong.
    std::string body() const;
};
// A plain table: columns as wide as their widest cell.
void print_table(std::FILE* out, const std::vector<std::vector<std::string>>& rows);

}  // namespace bootcfg
