# Helpers that give every tern target the same warnings and layout.
include(GNUInstallDirs)
#
#   tern_library(NAME <name> SOURCES ... DEPS ...)   -> target tern_<name>, alias tern::<name>
#   tern_test(NAME <name> SOURCES ... DEPS ...)      -> GoogleTest executable registered with CTest
#   tern_fuzzer(NAME <name> SOURCES ... DEPS ...)    -> libFuzzer executable (TERN_BUILD_FUZZ only)

# Compile options for test sources only, after the preset's own: the asan
# preset builds the library at -O1 (tests run at a useful speed) and the tests
# themselves at -O0 (GoogleTest bodies under the sanitizers take 2-3x longer to
# compile optimised, for nothing).
set(TERN_TEST_COMPILE_OPTIONS "" CACHE STRING "Extra compile options for test sources (;-separated)")

function(tern_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Werror)
endfunction()

function(tern_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(tern_${ARG_NAME} STATIC ${ARG_SOURCES})
  add_library(tern::${ARG_NAME} ALIAS tern_${ARG_NAME})
  target_include_directories(tern_${ARG_NAME} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                                    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(tern_${ARG_NAME} PUBLIC ${ARG_DEPS})
  tern_warnings(tern_${ARG_NAME})
  # Installed as tern::<name> (cmake/TernInstall.cmake).
  set_target_properties(tern_${ARG_NAME} PROPERTIES EXPORT_NAME ${ARG_NAME})
  set_property(GLOBAL APPEND PROPERTY TERN_LIBRARIES tern_${ARG_NAME})
endfunction()

function(tern_test)
  if(NOT TERN_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${ARG_NAME} PRIVATE TERN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_compile_options(${ARG_NAME} PRIVATE ${TERN_TEST_COMPILE_OPTIONS})
  tern_warnings(${ARG_NAME})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} --gtest_brief=1)
endfunction()

function(tern_fuzzer)
  if(NOT TERN_BUILD_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  tern_warnings(${ARG_NAME})
  # `fuzzers` builds them all: what the fuzz build preset builds.
  if(NOT TARGET fuzzers)
    add_custom_target(fuzzers)
  endif()
  add_dependencies(fuzzers ${ARG_NAME})
endfunction()
