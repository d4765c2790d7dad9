// Go text/template for users' cloud-configs, Ignition and generic templates, evaluated over JSON
// data with Go's semantics (missingkey=error, float64 numbers from JSON, fmt's formatting), so a
// template written for matchbox renders byte for byte the same here.
//
// Supported: text and actions with {{- -}} trimming, comments, pipelines, variables ($, $x :=,
// $x =), field chains, parenthesized pipelines, if / else if / else, range (with $i, $e := and
// else, break, continue), with / else, and the functions and or not eq ne lt le gt ge len index
// print printf println urlquery js html. {{define}}, {{template}} and {{block}} are reported as
// unsupported when the template is parsed.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "result/result.hpp"

namespace bootcfg {

namespace template_detail {
struct Tree;

// How the lexer, parser and executor stop; Template's functions turn it into a Failure.
class TemplateError : public std::runtime_error {
  public:
    TemplateError(std::string message, int line)
        : std::runtime_error(std::move(message)), line_(line) {}
    int line() const { return line_; }  // 1-based line in the template, 0 if unknown

  private:
    int line_;
};
}  // namespace template_detail

class Template {
  public:
    // The template, or the syntax error with its line.
    static Result<Template> parse(std::string_view text);

    // The output, or the execution error (missing key, bad comparison, ...) with its line.
    Result<std::string> render(const nlohmann::json& data) const;

    // The keys the template reads from the top of its data (`.key` outside range and with, and
    // `$.key` anywhere), sorted: data without one of them fails to render (missingkey=error).
    std::vector<std::string> root_keys() const;

  private:
    std::shared_ptr<const template_detail::Tree> tree_;
};

// JSON decoded the way Go's encoding/json fills an interface{}: every number a float64.
nlohmann::json as_go_json(nlohmann::json value);

}  // namespace bootcfg
