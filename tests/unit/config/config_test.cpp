#include <catch2/catch.hpp>
#include <map>

#include "config/config.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;

namespace {

// The settings and the failure's reason ("" when none).
struct Parsed {
    DaemonConfig config;
    std::string error;
};

Parsed parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    auto r = parse_daemon_config(args, [env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
    if (!r) return {{}, r.failure().reason};
    return {*r, ""};
}

}  // namespace

TEST_CASE("flags in Go style") {
    for (auto args : std::vector<std::vector<std::string>>{{"-address=0.0.0.0:9000"},
                                                           {"-address", "0.0.0.0:9000"},
                                                           {"--address=0.0.0.0:9000"},
                                                           {"--address", "0.0.0.0:9000"}}) {
        auto r = parse(args);
        CHECK(r.error.empty());
        CHECK(r.config.address == "0.0.0.0:9000");
    }
    auto r =
        parse({"-images-path=/srv/img", "-version", "-log-level=debug", "-read-timeout=1m30s"});
    CHECK(r.error.empty());
    CHECK(r.config.assets_path == "/srv/img");
    CHECK(r.config.version);
    CHECK(r.config.log_level == "debug");
    CHECK(r.config.read_timeout == std::chrono::milliseconds(90000));
    CHECK(parse({"-assets-path="}).config.assets_path.empty());
}

TEST_CASE("defaults") {
    auto c = parse({}).config;
    CHECK(c.address == "127.0.0.1:8080");
    CHECK(c.data_path == "./data");
    CHECK(c.assets_path == "./images");
    CHECK(c.log_level == "info");
}

TEST_CASE("bad flags give one clear line") {
    CHECK(parse({"-nope"}).error == "flag provided but not defined: -nope (see -help)");
    CHECK(parse({"-address"}).error == "flag needs an argument: -address");
    CHECK(parse({"-address=nonsense"}).error ==
          "invalid value for flag -address: expected host:port, got \"nonsense\"");
    CHECK(parse({"-address=:99999"}).error.find("invalid value for flag -address") == 0);
    CHECK(parse({"-log-level=loud"}).error ==
          "invalid value for flag -log-level: expected debug, info, warn or error, got \"loud\"");
    CHECK(parse({"-idle-timeout=soon"}).error.find("invalid value for flag -idle-timeout") == 0);
    CHECK(parse({"stray"}).error.find("unexpected argument \"stray\"") == 0);
}

TEST_CASE("environment, then command line") {
    auto r = parse({}, {{"BOOTCFG_DATA_PATH", "/env/data"}, {"BOOTCFG_ADDRESS", "0.0.0.0:1"}});
    CHECK(r.config.data_path == "/env/data");
    CHECK(r.config.address == "0.0.0.0:1");
    r = parse({"-data-path=/cli"}, {{"BOOTCFG_DATA_PATH", "/env/data"}});
    CHECK(r.config.data_path == "/cli");
    r = parse({}, {{"BOOTCFG_IMAGES_PATH", "/img"}});
    CHECK(r.config.assets_path == "/img");
    CHECK(
        parse({}, {{"BOOTCFG_LOG_LEVEL", "x"}}).error.find("invalid value for BOOTCFG_LOG_LEVEL") ==
        0);
}

TEST_CASE("YAML config file below environment and flags") {
    bootcfg::test::TempDir dir;
    const auto file = dir.write("bootcfgd.yaml",
                                "address: 0.0.0.0:8081\ndata-path: /yaml/data\nlog_level: warn\n");
    auto r = parse({"-config", file.string()}, {{"BOOTCFG_DATA_PATH", "/env"}});
    REQUIRE(r.error.empty());
    CHECK(r.config.address == "0.0.0.0:8081");
    CHECK(r.config.data_path == "/env");
    CHECK(r.config.log_level == "warn");

    const auto bad = dir.write("bad.yaml", "address: 1.2.3.4:80\nbogus: 1\n");
    CHECK(parse({"-config=" + bad.string()}).error ==
          "config file " + bad.string() + ": line 2: unknown setting \"bogus\"");
    const auto broken = dir.write("broken.yaml", "address: [\n");
    CHECK(parse({"-config=" + broken.string()})
              .error.find("config file " + broken.string() + ": line") == 0);
    CHECK(parse({"-config=/nonexistent.yaml"}).error ==
          "config file /nonexistent.yaml: cannot be read");
}

TEST_CASE("YAML config: relative paths are beside the file") {
    bootcfg::test::TempDir dir;
    const auto file = dir.write("etc/bootcfgd.yaml",
                                "data-path: data\nassets-path: ../images\ncert-file: tls/s.crt\n"
                                "key-file: /abs/s.key\nadmin-token-file: tokens\n"
                                "admin-address: unix:run/admin.sock\n");
    auto r = parse({"-config", file.string()});
    REQUIRE(r.error.empty());
    const std::string base = (dir.path() / "etc").string() + "/";
    CHECK(r.config.data_path == base + "data");
    CHECK(r.config.assets_path == base + "../images");
    CHECK(r.config.cert_file == base + "tls/s.crt");
    CHECK(r.config.key_file == "/abs/s.key");
    CHECK(r.config.admin_token_file == base + "tokens");
    CHECK(r.config.admin_address == "unix:" + base + "run/admin.sock");
    // Flags and the environment stay relative to where bootcfgd starts, as any command's do.
    CHECK(parse({"-config", file.string(), "-data-path=d"}).config.data_path == "d");
}

TEST_CASE("host:port and durations") {
    CHECK(split_host_port("[::1]:8080")->host == "::1");
    CHECK(split_host_port(":8080")->host == "0.0.0.0");
    CHECK_FALSE(split_host_port("::1:8080"));
    CHECK_FALSE(split_host_port("host"));
    CHECK(join_host_port("::1", "8080") == "[::1]:8080");
    CHECK(join_host_port("127.0.0.1", "80") == "127.0.0.1:80");
    CHECK(split_host_port(join_host_port("fe80::1", "9"))->host == "fe80::1");
    CHECK(etag_list_matches("*", "\"a\""));
    CHECK(etag_list_matches(" \"x\",\tW/\"a\" ", "\"a\""));
    CHECK_FALSE(etag_list_matches("\"b\", \"c\"", "\"a\""));
    CHECK(parse_duration("500ms") == std::chrono::milliseconds(500));
    CHECK(parse_duration("2h") == std::chrono::milliseconds(7200000));
    CHECK(parse_duration("1.5s") == std::chrono::milliseconds(1500));
    // Found by fuzz_data_files (YAML config): the conversion overflowed (undefined behaviour).
    CHECK_FALSE(parse_duration("1m" + std::string(60, '6') + "s"));
    CHECK_FALSE(parse_duration("3000000h"));
    CHECK(parse_duration("2000000h") == std::chrono::milliseconds(7200000000000LL));

    CHECK_FALSE(parse_duration("10"));
    CHECK_FALSE(parse_duration("10x"));
}

TEST_CASE("etcd settings: endpoints, one store, flags that go together") {
    auto p = parse({"-etcd-endpoints=http://127.0.0.1:2379,https://etcd.lab:2379"});
    REQUIRE(p.error.empty());
    CHECK(p.config.etcd_endpoints ==
          std::vector<std::string>{"http://127.0.0.1:2379", "https://etcd.lab:2379"});
    CHECK(p.config.etcd_prefix == "/bootcfg/");
    CHECK(p.config.etcd_timeout == std::chrono::milliseconds(5000));

    p = parse({}, {{"BOOTCFG_ETCD_ENDPOINTS", "http://h:2379"}, {"BOOTCFG_ETCD_PREFIX", "/lab/"}});
    REQUIRE(p.error.empty());
    CHECK(p.config.etcd_prefix == "/lab/");

    CHECK(parse({"-etcd-endpoints=h:2379"}).error ==
          "invalid value for flag -etcd-endpoints: expected http://HOST:PORT or https://HOST:PORT, "
          "comma-separated, got \"h:2379\"");
    CHECK(parse({"-etcd-endpoints=http://h:2379/v3"}).error.find("got \"http://h:2379/v3\"") !=
          std::string::npos);
    CHECK(parse({"-etcd-endpoints=http://h:2379,"}).error.find("got \"\"") != std::string::npos);
    CHECK(parse({"-etcd-endpoints=http://h:2379", "-data-path=/srv/data"}).error ==
          "-data-path and -etcd-endpoints are both set: serve from one store");
    CHECK(parse({"-etcd-username=root"}).error == "-etcd-username needs -etcd-endpoints");
    CHECK(parse({"-etcd-endpoints=http://h:2379", "-etcd-cert-file=c.pem"}).error ==
          "-etcd-cert-file and -etcd-key-file go together");
    CHECK(parse({"-etcd-endpoints=http://h:2379", "-etcd-username=root"}).error ==
          "-etcd-username and -etcd-password-file go together");
}

TEST_CASE("etcd files in the YAML file are relative to it") {
    test::TempDir dir;
    dir.write("bootcfgd.yaml",
              "etcd-endpoints: http://127.0.0.1:2379\netcd-username: boot\n"
              "etcd-password-file: etcd.pass\netcd_ca_file: /etc/ca.pem\n");
    auto p = parse({"-config=" + (dir.path() / "bootcfgd.yaml").string()});
    REQUIRE(p.error.empty());
    CHECK(p.config.etcd_password_file == (dir.path() / "etcd.pass").string());
    CHECK(p.config.etcd_ca_file == "/etc/ca.pem");
    CHECK(p.config.etcd_username == "boot");
}

TEST_CASE("the gRPC API: off by default, host:port, needs all three TLS files") {
    CHECK(parse({}).config.rpc_address.empty());
    const std::vector<std::string> tls = {"-cert-file=s.crt", "-key-file=s.key", "-ca-file=ca.crt"};
    auto args = tls;
    args.push_back("-rpc-address=0.0.0.0:8081");
    auto p = parse(args);
    REQUIRE(p.error.empty());
    CHECK(p.config.rpc_address == "0.0.0.0:8081");
    p = parse(tls, {{"BOOTCFG_RPC_ADDRESS", "[::1]:8081"}});
    REQUIRE(p.error.empty());
    CHECK(p.config.rpc_address == "[::1]:8081");

    CHECK(parse({"-rpc-address=8081"}).error ==
          "invalid value for flag -rpc-address: expected host:port, got \"8081\"");
    const std::string needs =
        "-rpc-address needs -cert-file, -key-file and -ca-file: the gRPC API requires client "
        "certificates, as matchbox's does";
    CHECK(parse({"-rpc-address=:8081"}).error == needs);
    CHECK(parse({"-rpc-address=:8081", "-cert-file=s.crt", "-key-file=s.key"}).error == needs);
}
