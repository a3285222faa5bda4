# cmake --install BUILD --prefix P: P/bin/geoloc, P/lib/libgeoloc.a,
# P/include/geoloc/*.h, P/lib/pkgconfig/geoloc.pc and P/share/geoloc (the
# default model, the example photo and the scene names in scenes/, where the
# model finder looks: <bin>/../share/geoloc). tests/install.sh installs into
# a temporary prefix.
include(GNUInstallDirs)

install(TARGETS geoloc_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${GEOLOC_ARCHIVE} DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/geoloc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_SOURCE_DIR}/share/geoloc/geoloc-default.safetensors
              ${CMAKE_SOURCE_DIR}/share/geoloc/geoloc-scene.safetensors
              ${CMAKE_SOURCE_DIR}/share/geoloc/example.jpg
              ${CMAKE_SOURCE_DIR}/share/geoloc/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/geoloc)
# the Places365 scene names and hierarchy (S3, S16, S365) with their attribution
install(DIRECTORY ${CMAKE_SOURCE_DIR}/share/geoloc/scenes DESTINATION ${CMAKE_INSTALL_DATADIR}/geoloc)
# the server page's npm files (Leaflet, country outlines), when
# tools/fetch-web.sh has fetched them into models/web
set(GEOLOC_WEB_DIR ${CMAKE_SOURCE_DIR}/models/web)
install(FILES ${GEOLOC_WEB_DIR}/leaflet.js ${GEOLOC_WEB_DIR}/leaflet.css
              ${GEOLOC_WEB_DIR}/countries.geojson ${GEOLOC_WEB_DIR}/LICENSE-leaflet
              ${GEOLOC_WEB_DIR}/LICENSE-world-atlas ${GEOLOC_WEB_DIR}/README-world-atlas.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/geoloc/web OPTIONAL)
# the place file and its attribution (GeoNames: CC BY 4.0), when
# tools/fetch-places.sh has made them
install(FILES ${CMAKE_SOURCE_DIR}/models/places.bin DESTINATION ${CMAKE_INSTALL_DATADIR}/geoloc OPTIONAL)
install(FILES ${CMAKE_SOURCE_DIR}/models/places/ATTRIBUTION DESTINATION ${CMAKE_INSTALL_DATADIR}/geoloc
        RENAME ATTRIBUTION-places OPTIONAL)

# geoloc.pc, relocatable (the prefix is found from the .pc file's own place,
# so --prefix at install time is honoured). Libs.private: what the archive's
# objects call besides the pkg-config packages of Requires.private.
file(RELATIVE_PATH GEOLOC_PC_UP /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" GEOLOC_PC_UP ${GEOLOC_PC_UP})
get_filename_component(dnnl_name ${GEOLOC_DNNL} NAME_WE)
string(REGEX REPLACE "^lib" "-l" GEOLOC_PC_LIBS_PRIVATE ${dnnl_name})
# libheif and jansson as plain -l: their own .pc files would pull, with
# --static, encoder libraries (x265, numa) the archive never calls
string(APPEND GEOLOC_PC_LIBS_PRIVATE " -lheif -ljansson -lmicrohttpd -lcairo -lmsgpackc")
foreach(lib ${OpenMP_C_LIB_NAMES} m)
  if(NOT lib STREQUAL "pthread")
    string(APPEND GEOLOC_PC_LIBS_PRIVATE " -l${lib}")
  endif()
endforeach()
string(APPEND GEOLOC_PC_LIBS_PRIVATE " -lpthread")
if(GEOLOC_HAVE_MPI)
  foreach(lib ${MPI_C_LIBRARIES})
    string(APPEND GEOLOC_PC_LIBS_PRIVATE " ${lib}")
  endforeach()
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/geoloc.pc.in ${CMAKE_BINARY_DIR}/geoloc.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/geoloc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
