# Declarative helpers so that each folder's CMakeLists.txt is a short list of targets.
#
#   signet_cc_library(NAME foo SRCS a.cc b.cc DEPS signet::bar absl::status)
#       -> target signet_foo, alias signet::foo
#   signet_cc_test(NAME foo_test SRCS foo_test.cc DEPS signet::foo [LABELS x]
#                  [PROPERTIES prop value ...])
#       -> gtest binary; every TEST becomes a ctest test. PROPERTIES are extra ctest properties
#          for every discovered test (e.g. FIXTURES_REQUIRED, ENVIRONMENT_MODIFICATION; use the
#          latter for variables, since ENVIRONMENT already holds SIGNET_SOURCE_DIR).
#   signet_cc_binary(NAME signet SRCS main.cc DEPS ...)

set(SIGNET_WARNINGS -Wall -Wextra -Werror -Wnon-virtual-dtor -Wshadow -Wno-unused-parameter)

function(signet_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(target signet_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(signet::${ARG_NAME} ALIAS ${target})
  target_compile_options(${target} PRIVATE ${SIGNET_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
endfunction()

function(signet_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${SIGNET_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

function(signet_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS;PROPERTIES" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${SIGNET_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
    PROPERTIES LABELS "${ARG_LABELS}"
               ENVIRONMENT "SIGNET_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
               ${ARG_PROPERTIES})
endfunction()
