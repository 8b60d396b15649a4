# Installs libmasklm (static and shared), its headers and a CMake package so that
# find_package(masklm) gives masklm::masklm_static and masklm::masklm_shared.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS masklm_static masklm_shared masklm_cli EXPORT masklmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir IN LISTS masklm_dirs)
  install(DIRECTORY ${dir}/ DESTINATION include/masklm/${dir} FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/masklm/version.h DESTINATION include/masklm/masklm)
install(EXPORT masklmTargets NAMESPACE masklm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/masklm)

configure_package_config_file(cmake/masklmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/masklmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/masklm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/masklmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/masklmConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/masklmConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/masklm)
