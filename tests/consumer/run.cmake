# Driver for the install_consumer test (cmake -P): installs the main build into a prefix
# under the build tree, configures and builds tests/consumer against it through
# find_package(masklm), and runs both executables. Every step starts from scratch so a
# stale cache can never hide a broken package.
foreach(var MASKLM_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake needs -D${var}=...")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${prefix} ${build})

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}")
  endif()
  message(STATUS "${name}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step("install" ${CMAKE_COMMAND} --install ${MASKLM_BUILD_DIR} --prefix ${prefix})

# The layout users include from: headers under include/masklm/<dir>/, the generated
# version header under include/masklm/masklm/.
foreach(f include/masklm/runtime/arena.h include/masklm/model/config.h
          include/masklm/kernels/ops.h include/masklm/masklm/version.h)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

set(extra_args)
if(BUILD_TYPE)
  list(APPEND extra_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(CXX_LAUNCHER)  # ccache, as in the main build: the header checks are most of the time
  list(APPEND extra_args -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_LAUNCHER})
endif()
step("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -G ${GENERATOR}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix} ${extra_args})
step("build consumer" ${CMAKE_COMMAND} --build ${build})

foreach(exe consumer_static consumer_shared)
  step("run ${exe}" ${build}/${exe})
  message("${exe}: ${step_output}")
endforeach()
