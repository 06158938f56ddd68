# Every build option of Roost, in one place.
option(ROOST_WERROR "Treat compiler warnings as errors" OFF)
option(ROOST_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(ROOST_FUZZ "Build the libFuzzer harnesses (clang; `make fuzz`) instead of the programs' tests" OFF)
option(ROOST_TESTS "Build the unit tests and register the integration tests" ON)
set(ROOST_TEST_TIMEOUT 60 CACHE STRING "Default timeout of one unit test, in seconds")
set(ROOST_INTEGRATION_TIMEOUT 900 CACHE STRING "Timeout of the integration suite, in seconds")
