// The core's one way to report an error: a function returns Result<T>, the value or the Failure
// that prevented it, and no exception crosses a core API. (lib/cli, lib/image, lib/provider and
// lib/client throw one std::runtime_error subclass each, turned into an exit code where lib/cli
// runs a command.) std::optional stays for "absent or not one of these": one possible reason.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bootcfg {

// What went wrong, for a person: one line, and where when known.
struct Failure {
    std::string reason;
    std::string field;  // the field, flag or part at fault ("boot.initrd", "-address"), if any
    int line = 0;       // 1-based line in the input, 0 if not about one line
};

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Failure failure) : v_(std::in_place_index<1>, std::move(failure)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    const Failure& failure() const { return std::get<1>(v_); }

  private:
    std::variant<T, Failure> v_;
};

// Success, or the Failure.
template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Failure failure) : failure_(std::move(failure)) {}

    bool ok() const { return !failure_; }
    explicit operator bool() const { return ok(); }
    const Failure& failure() const { return *failure_; }

  private:
    std::optional<Failure> failure_;
};

// A Failure with only a reason: `return fail("cannot open " + path);`.
inline Failure fail(std::string reason, std::string field = {}) {
    return {std::move(reason), std::move(field), 0};
}

// For the CLI layers, which report by exception: throws E(prefix + reason) on a failure.
template <class E>
void throw_on_failure(const Result<void>& result, const std::string& prefix = {}) {
    if (!result) throw E(prefix + result.failure().reason);
}

}  // namespace bootcfg
