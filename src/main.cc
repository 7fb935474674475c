// chatroomd: parses the command line (docs/api.md, "Command line") and runs the daemon.
#include <boost/program_options.hpp>
#include <iostream>

#include "chatroomd/server/daemon.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
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
