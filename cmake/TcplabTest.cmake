# tcplab_add_test(NAME SOURCES src... [LIBS lib...] [LABELS label...])
# One Qt Test executable per unit, registered with ctest; GUI tests run on the
# offscreen platform so they need no display. TCPLAB_TEST_DATA points at tests/data.
function(tcplab_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES AUTOMOC ON)
  target_link_libraries(${name} PRIVATE Qt6::Test ${ARG_LIBS} tcplab_warnings)
  target_compile_definitions(${name} PRIVATE
    TCPLAB_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
    TCPLAB_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen"
    LABELS "${ARG_LABELS}"
    SKIP_REGULAR_EXPRESSION "SKIP +: [A-Za-z0-9_]+::initTestCase\\(\\)")
endfunction()
