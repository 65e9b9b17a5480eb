# Runs hydra-conform --json on one plugin and checks the outcome of every
# check against what is expected:
#
#   cmake -DTOOL=... -DPLUGIN=... [-DARGS="a|b"] [-DEXPECT="check=OUTCOME|..."] -P expect.cmake
#
# Every check named in EXPECT must have exactly that outcome; every other
# check must PASS, WARN or SKIP. "check=OUTCOME@text" also requires the
# check's message to contain text (where a crash or a hang was pinned). The exit status must be 1 when anything is
# expected to FAIL, CRASH or TIME OUT, and 0 otherwise.
cmake_minimum_required(VERSION 3.20)

# The lists arrive joined with "|" (see tests/conform/CMakeLists.txt).
string(REPLACE "|" ";" ARGS "${ARGS}")
string(REPLACE "|" ";" EXPECT "${EXPECT}")

execute_process(COMMAND ${TOOL} ${PLUGIN} --json ${ARGS}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 280)
if(NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "hydra-conform did not finish: ${rc}\n${err}")
endif()
string(JSON n ERROR_VARIABLE jerr LENGTH "${out}" checks)
if(jerr)
  message(FATAL_ERROR "hydra-conform printed no report (${jerr}), status ${rc}:\n${out}\n${err}")
endif()

set(problems "")
set(want_fail 0)
foreach(e IN LISTS EXPECT)
  string(REPLACE "=" ";" kv "${e}")
  list(GET kv 0 name)
  list(GET kv 1 outcome)
  set(expect_text_${name} "")
  string(FIND "${outcome}" "@" at)
  if(at GREATER -1)
    math(EXPR after "${at} + 1")
    string(SUBSTRING "${outcome}" ${after} -1 expect_text_${name})
    string(SUBSTRING "${outcome}" 0 ${at} outcome)
  endif()
  set(expect_${name} ${outcome})
  set(seen_${name} 0)
  if(outcome MATCHES "^(FAIL|CRASH|TIMEOUT)$")
    set(want_fail 1)
  endif()
endforeach()

math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${out}" checks ${i} name)
  string(JSON outcome GET "${out}" checks ${i} outcome)
  string(JSON msg GET "${out}" checks ${i} message)
  message(STATUS "${outcome} ${name}: ${msg}")
  if(DEFINED expect_${name})
    set(seen_${name} 1)
    if(NOT outcome STREQUAL expect_${name})
      string(APPEND problems "  ${name}: expected ${expect_${name}}, got ${outcome}: ${msg}\n")
    endif()
    if(NOT expect_text_${name} STREQUAL "")
      string(FIND "${msg}" "${expect_text_${name}}" found)
      if(found EQUAL -1)
        string(APPEND problems "  ${name}: the message does not say \"${expect_text_${name}}\": ${msg}\n")
      endif()
    endif()
  elseif(NOT outcome MATCHES "^(PASS|WARN|SKIP)$")
    string(APPEND problems "  ${name}: unexpected ${outcome}: ${msg}\n")
  endif()
endforeach()
foreach(e IN LISTS EXPECT)
  string(REPLACE "=" ";" kv "${e}")
  list(GET kv 0 name)
  if(NOT seen_${name})
    string(APPEND problems "  ${name}: expected in the report but not run\n")
  endif()
endforeach()
if(NOT rc EQUAL want_fail)
  string(APPEND problems "  exit status ${rc}, expected ${want_fail}\n")
endif()
if(problems)
  message(FATAL_ERROR "${PLUGIN}:\n${problems}")
endif()
