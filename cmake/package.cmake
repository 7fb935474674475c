# The Debian package (scripts/package.sh; docs/operations.md, "Install from the package"):
# install rules for the files the package holds, and CPack's DEB generator. Included by the
# root CMakeLists.txt when CHATROOMD_PACKAGE is on, so that other builds install nothing.
#
#   /usr/bin/chatroomd
#   /etc/chatroomd/chatroomd.textproto   conffile, generated below from config/
#   /etc/chatroomd/sects.textproto       conffile, config/sects.textproto as it is
#   /lib/systemd/system/chatroomd.service
#   /usr/share/doc/chatroomd/            copyright, README.md and the operator's pages
# The maintainer scripts (packaging/debian/) create the chatroomd user, /var/lib/chatroomd
# and /etc/chatroomd/jwt.secret, and enable and start the unit.

# The packaged main config: config/chatroomd.textproto with the three values a server needs
# changed, so that every other default and comment stays the one the repository documents.
# Each change names the exact text it replaces and the configure step stops if it is gone.
set(dev_config ${CMAKE_SOURCE_DIR}/config/chatroomd.textproto)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${dev_config})
file(READ ${dev_config} packaged_config)
function(chatroomd_package_replace from to)
  string(FIND "${packaged_config}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "cmake/package.cmake: config/chatroomd.textproto no longer holds\n"
      "${from}\nUpdate the packaged config's changes to match it.")
  endif()
  string(REPLACE "${from}" "${to}" replaced "${packaged_config}")
  set(packaged_config "${replaced}" PARENT_SCOPE)
endfunction()
chatroomd_package_replace("listeners {\n  host: \"127.0.0.1\"\n"
  "listeners {\n  host: \"0.0.0.0\"            # packaged: every IPv4 address (\"::\" for IPv6)\n")
chatroomd_package_replace("auth {\n  enabled: false\n}"
  "auth {\n  enabled: true\n  # packaged: the HS256 secret shared with the platform's login service. The package\n  # created it with a random secret (mode 0640, root:chatroomd): put yours in its place.\n  jwt_secret_file: \"/etc/chatroomd/jwt.secret\"\n}")
chatroomd_package_replace("  data_dir: \"data\"           # relative to the daemon's working directory"
  "  data_dir: \"/var/lib/chatroomd\"  # packaged: the package's state directory")
set(packaged_header "# Packaged by the chatroomd Debian package: config/chatroomd.textproto with three values\n# for a server (listeners on 0.0.0.0:8080, JWT auth with /etc/chatroomd/jwt.secret, data in\n# /var/lib/chatroomd); marked \"packaged:\" below. A conffile: your edits survive upgrades.\n# Check a change with `chatroomd --check-config --config /etc/chatroomd/chatroomd.textproto`,\n# apply it with `systemctl reload chatroomd` (live fields) or `systemctl restart chatroomd`.\n#\n")
file(WRITE ${CMAKE_BINARY_DIR}/package/chatroomd.textproto "${packaged_header}${packaged_config}")

install(TARGETS chatroomd RUNTIME DESTINATION bin)
install(FILES ${CMAKE_BINARY_DIR}/package/chatroomd.textproto
  ${CMAKE_SOURCE_DIR}/config/sects.textproto DESTINATION /etc/chatroomd)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/chatroomd.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/copyright ${CMAKE_SOURCE_DIR}/README.md
  ${CMAKE_SOURCE_DIR}/docs/operations.md ${CMAKE_SOURCE_DIR}/docs/security.md
  ${CMAKE_SOURCE_DIR}/docs/api.md DESTINATION share/doc/chatroomd)

execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE deb_arch
  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chatroomd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "chatroomd maintainers <maintainers@users.noreply.h-seed-f4e7ecdf.example>"
  CACHE STRING "the package's Maintainer field")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "chatroom server for live-streaming rooms (HTTP long-poll)")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "A chatroom server daemon for live-streaming rooms: clients long-poll over HTTP,\n"
  "one process per host, a room can hold a very large audience. Every accepted message\n"
  "is durable in an embedded RocksDB before it is acknowledged. Runs as the systemd\n"
  "service chatroomd, with JWT authentication.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # chatroomd_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${deb_arch})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages, found by dpkg-shlibdeps (dpkg-dev); adduser for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
