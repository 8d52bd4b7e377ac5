# What `cmake --install BUILD [--prefix P]` puts in place:
#   P/include/tern/...            every header of src/tern
#   P/lib/libtern_*.a             every tern library (tern_library targets)
#   P/lib/cmake/tern/             the package: find_package(tern) gives tern::<name>
#                                 (tern::client, tern::gateway_runner, ...) and
#                                 tern::gateway_plugin (headers only, for plug-ins)
#   P/bin/tern, P/bin/ternd
#   P/share/tern/gateway.toml     the gateway's configuration with every default
include(CMakePackageConfigHelpers)

get_property(tern_libraries GLOBAL PROPERTY TERN_LIBRARIES)
install(TARGETS ${tern_libraries} tern_gateway_plugin EXPORT ternTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS tern ternd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/tern DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h"
  PATTERN testdata EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/etc/gateway.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/tern)

set(tern_package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tern)
install(EXPORT ternTargets NAMESPACE tern:: DESTINATION ${tern_package_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ternConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ternConfig.cmake INSTALL_DESTINATION ${tern_package_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ternConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ternConfig.cmake ${PROJECT_BINARY_DIR}/ternConfigVersion.cmake
  DESTINATION ${tern_package_dir})
