# Installs libmasklm (static and shared), its headers and a CMake package so that
# find_package(masklm) gives masklm::masklm_static and masklm::masklm_shared.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(masklm_installed_targets masklm_static masklm_shared)
if(TARGET masklm_cli)
  list(APPEND masklm_installed_targets masklm_cli)
endif()
install(TARGETS ${masklm_installed_targets} EXPORT masklmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Headers keep their source layout under include/masklm, so users write the same
# #include "runtime/arena.h" as the library does. Kernel headers (.cuh) stay private, and
# a build without CUDA leaves out the .h files that include CUDA toolkit headers.
foreach(dir IN LISTS masklm_dirs)
  file(GLOB dir_headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.h)
  if(NOT MASKLM_CUDA)
    foreach(header IN LISTS dir_headers)
      file(STRINGS ${header} cuda_includes REGEX "^#include <(cuda|cublas|cudnn|nccl)")
      if(cuda_includes)
        list(REMOVE_ITEM dir_headers ${header})
      endif()
    endforeach()
  endif()
  if(dir_headers)
    install(FILES ${dir_headers} DESTINATION include/masklm/${dir})
  endif()
endforeach()
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/masklm/version.h
  DESTINATION include/masklm/masklm)
install(EXPORT masklmTargets NAMESPACE masklm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/masklm)

configure_package_config_file(cmake/masklmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/masklmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/masklm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/masklmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/masklmConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/masklmConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/masklm)
