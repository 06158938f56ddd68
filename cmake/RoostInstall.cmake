# What `cmake --install` puts under its prefix:
#   bin/roost-ingress, bin/roost-worker, bin/roostctl
#   share/roost/web, share/roost/swagger-ui, share/roost/leaflet   (where roost-ingress looks: pages.c)
#   include/roost/roost.h, lib/libroost.so.*, lib/libroost.a
#   lib/cmake/Roost/   find_package(Roost): Roost::client, Roost::client_static
#   lib/pkgconfig/roost.pc
install(TARGETS roost-ingress roost-worker roostctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/roost/web)
if(EXISTS ${PROJECT_SOURCE_DIR}/node_modules/swagger-ui-dist)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/node_modules/swagger-ui-dist/
          DESTINATION ${CMAKE_INSTALL_DATADIR}/roost/swagger-ui)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/node_modules/leaflet/dist)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/node_modules/leaflet/dist/ DESTINATION ${CMAKE_INSTALL_DATADIR}/roost/leaflet)
endif()

install(FILES ${PROJECT_SOURCE_DIR}/include/roost/roost.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/roost)
install(TARGETS roost_client_shared roost_client_static EXPORT RoostTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT RoostTargets NAMESPACE Roost:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Roost)

include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/RoostConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/RoostConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Roost)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/RoostConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/RoostConfig.cmake ${PROJECT_BINARY_DIR}/RoostConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Roost)

configure_file(${PROJECT_SOURCE_DIR}/cmake/roost.pc.in ${PROJECT_BINARY_DIR}/roost.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/roost.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
