# Runs one case of a 2-rank job in which a rank dies or hangs (MASKLM_TEST_KILL_RANK or
# MASKLM_TEST_HANG_RANK in the environment says which) and checks that the job ends by
# itself within DEADLINE_S, with a non-zero status and a message that matches EXPECT.
#   cmake "-DLAUNCH=mpiexec;-n;2;test_mpi_data_parallel" -DCASE=MpiTest.RankDeathEndsTheJob
#         "-DEXPECT=signal 9|another rank" -DDEADLINE_S=60 -P job_ends.cmake
string(TIMESTAMP start "%s")
execute_process(
  COMMAND ${LAUNCH} --gtest_filter=${CASE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT ${DEADLINE_S})
string(TIMESTAMP end "%s")
math(EXPR seconds "${end} - ${start}")
message(STATUS "exit '${rc}' after ${seconds} s\n${out}\n${err}")

if("${out}" MATCHES "run by tests/mpi/job_ends.cmake")
  message(FATAL_ERROR "the ranks did not see the variable that tells one to die or hang")
endif()
if(rc EQUAL 0 AND "${out}" MATCHES "\\[  SKIPPED \\]")
  return()  # no GPU per rank here; ctest reports the skip (SKIP_REGULAR_EXPRESSION)
endif()
if(rc MATCHES "timeout")
  message(FATAL_ERROR "the job still ran ${DEADLINE_S} s after a rank died or hung")
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "the job exited 0 although a rank died or hung")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "no message matches '${EXPECT}'")
endif()
message(STATUS "the job ended in ${seconds} s (exit ${rc})")
