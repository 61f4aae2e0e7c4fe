# Install rules: what `cmake --install build --prefix P` puts under P.
#
#   P/include/skein/skein.hpp, behaviour.hpp, ...   the public entry headers
#   P/include/skein/{actors,runtime,net,persistence,cli}/*.hpp
#                                                    the layers' headers, as in
#                                                    the source tree
#   P/lib/libskein_{persistence,store_actor,actors,runtime,net,cli}.a
#   P/lib/cmake/skein/skeinConfig.cmake (+ Version, Targets, Dependencies)
#   P/lib/pkgconfig/skein.pc
#   P/bin/skein                                      the stock binary (no kinds;
#                                                    `skein new` and ops tools)
#
# Include paths: a consumer gets both P/include (for <skein/skein.hpp>) and
# P/include/skein (so the layers' own "actors/behaviour.hpp" includes
# resolve). Users write only <skein/...>; see docs/user-guide.md.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SKEIN_LAYER_TARGETS skein_persistence skein_store_actor skein_actors skein_runtime skein_net skein_cli)
foreach(t IN LISTS SKEIN_LAYER_TARGETS)
  string(REPLACE "skein_" "" short ${t})
  # The layers add ${PROJECT_SOURCE_DIR} as a plain include path; installed,
  # the same headers live under include/skein.
  set_target_properties(${t} PROPERTIES
    EXPORT_NAME ${short}
    INTERFACE_INCLUDE_DIRECTORIES
      "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>;$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>;$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/skein>")
  target_compile_features(${t} PUBLIC cxx_std_20)
endforeach()

install(TARGETS skein ${SKEIN_LAYER_TARGETS}
  EXPORT skeinTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY skein/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/skein
  FILES_MATCHING PATTERN "*.hpp")
foreach(layer actors runtime net persistence cli)
  install(DIRECTORY ${layer}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/skein/${layer}
    FILES_MATCHING PATTERN "*.hpp" PATTERN "assets" EXCLUDE)
endforeach()
if(TARGET skein-bin)
  install(TARGETS skein-bin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT skeinTargets NAMESPACE skein::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/skein)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/skeinConfig.cmake.in
  ${PROJECT_BINARY_DIR}/skeinConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/skein)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/skeinConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/skeinConfig.cmake
  ${PROJECT_BINARY_DIR}/skeinConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/skeinDependencies.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/skein)

# pkg-config: the same flags for Makefile / Meson users (cmake/skein.pc.in).
# prefix is found relative to the .pc file, so `cmake --install --prefix P`
# and DESTDIR installs both work without reconfiguring.
file(RELATIVE_PATH SKEIN_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
# CAF has no .pc file: its flags go in directly (none for /usr/include, an
# -isystem of the compiler's own path breaks libstdc++'s #include_next).
get_filename_component(_skein_caf_libdir ${SKEIN_CAF_CORE_LIBRARY} DIRECTORY)
set(SKEIN_PC_CAF_LIBS "-lcaf_openssl -lcaf_io -lcaf_core")
if(NOT _skein_caf_libdir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
  set(SKEIN_PC_CAF_LIBS "-L${_skein_caf_libdir} ${SKEIN_PC_CAF_LIBS}")
endif()
set(SKEIN_PC_CAF_CFLAGS "")
if(NOT SKEIN_CAF_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
  set(SKEIN_PC_CAF_CFLAGS "-isystem ${SKEIN_CAF_INCLUDE_DIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/skein.pc.in ${PROJECT_BINARY_DIR}/skein.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/skein.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
