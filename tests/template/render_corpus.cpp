// Renders tests/template/corpus.json with bootcfg's template engine, in oracle.go's format.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "template/template.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: render_corpus CORPUS.json\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    std::stringstream text;
    text << in.rdbuf();
    const auto cases = nlohmann::json::parse(text.str());
    for (const auto& c : cases) {
        const std::string name = c.at("name");
        const auto tmpl = bootcfg::Template::parse(c.at("template").get<std::string>());
        if (!tmpl) {
            std::cout << "=== " << name << " parse-error\n";
            continue;
        }
        const auto data = bootcfg::as_go_json(c.contains("data") ? c["data"] : nlohmann::json());
        const auto out = tmpl->render(data);
        if (!out) {
            std::cout << "=== " << name << " exec-error\n";
            continue;
        }
        std::cout << "=== " << name << " ok " << out->size() << "\n" << *out << "\n";
    }
    return 0;
}
