// chatroomd: parses the command line (docs/api.md, "Command line") and runs the daemon.
#include <boost/program_options.hpp>
#include <iostream>
#include <string_view>

#include "chatroomd/server/daemon.h"

namespace po = boost::program_options;

namespace {

// chatroomd token --user U [--admin] [--ttl SECONDS] [--config FILE] [--jwt-secret-file FILE]
//                 [--private-key-file FILE]
int Token(int argc, char** argv) {
  chatroomd::server::TokenOptions options;
  po::options_description desc("chatroomd token options");
  desc.add_options()("help,h", "show this help")(
      "user", po::value<std::string>(&options.user)->required(), "the user id (sub)")(
      "admin", "admin rights (adm: true)")("ttl", po::value<int64_t>(&options.ttl_s),
                                           "seconds until it expires (default 3600)")(
      "config", po::value<std::string>(&options.config_path), "main config file (its secret)")(
      "jwt-secret-file", po::value<std::string>(), "sign with the HS256 secret in this file")(
      "private-key-file", po::value<std::string>(),
      "sign RS256/ES256 with this PEM private key (RSA or P-256)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "chatroomd token: " << e.what() << "\n" << desc;
    return 2;
  }
  options.admin = vm.count("admin") > 0;
  if (vm.count("jwt-secret-file")) {
    options.jwt_secret_file = vm["jwt-secret-file"].as<std::string>();
  }
  if (vm.count("private-key-file")) {
    options.private_key_file = vm["private-key-file"].as<std::string>();
  }
  return chatroomd::server::RunToken(options);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "token") return Token(argc - 1, argv + 1);
  chatroomd::server::DaemonOptions options;
  po::options_description desc("chatroomd options");
  desc.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(&options.config_path), "main config file")(
      "listen", po::value<std::string>(), "HOST:PORT, replaces the configured listeners")(
      "data-dir", po::value<std::string>(), "store directory, replaces the configured one")(
      "jwt-secret-file", po::value<std::string>(), "turn JWT auth on with this secret")(
      "check-config", "validate the config files and exit");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "chatroomd: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (vm.count("listen")) options.overrides.listen = vm["listen"].as<std::string>();
  if (vm.count("data-dir")) options.overrides.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("jwt-secret-file")) {
    options.overrides.jwt_secret_file = vm["jwt-secret-file"].as<std::string>();
  }
  if (vm.count("check-config")) return chatroomd::server::CheckConfig(options);
  return chatroomd::server::RunDaemon(options);
}
