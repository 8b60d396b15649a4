# Kills rank 1 of a 2-rank training run after step 3 (MASKLM_TEST_KILL_RANK) and checks
# that the job, blocked in a collective on rank 0, ends by itself within DEADLINE_S with a
# non-zero status and a message that says a rank died.
#   cmake -DLAUNCH="mpiexec;-n;2;test_mpi_data_parallel" -DDEADLINE_S=60 -P rank_death.cmake
string(TIMESTAMP start "%s")
execute_process(
  COMMAND ${LAUNCH} --gtest_filter=MpiTest.RankDeathEndsTheJob
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT ${DEADLINE_S})
string(TIMESTAMP end "%s")
math(EXPR seconds "${end} - ${start}")
message(STATUS "exit '${rc}' after ${seconds} s\n${out}\n${err}")

if(rc MATCHES "timeout")
  message(FATAL_ERROR "the surviving rank still ran ${DEADLINE_S} s after the other died")
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "the job exited 0 although a rank was killed")
endif()
# mpirun's report ("... exited on signal 9 (Killed)"), or masklm's own (an MPI error or the
# collective watchdog: "masklm: rank 0: ... another rank has probably died").
if(NOT "${out}${err}" MATCHES "signal 9|Killed|another rank")
  message(FATAL_ERROR "no message says that a rank died")
endif()
message(STATUS "rank death ended the job in ${seconds} s (exit ${rc})")
