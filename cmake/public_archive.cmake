# The installed library libgeoloc.a: every object of the internal archive
# (target geoloc, libgeoloc_internal.a) linked into one relocatable object
# whose only global symbols are the public geoloc_* ones; internal helpers
# (csv_*, atomic_file_*, array_grow, ...) become local to it, so they can
# never clash with a program's own names. tests/symbols.sh checks the result.
set(GEOLOC_ARCHIVE ${CMAKE_BINARY_DIR}/libgeoloc.a)
set(GEOLOC_ARCHIVE_WORK ${CMAKE_BINARY_DIR}/CMakeFiles/geoloc_archive.dir)
add_custom_command(
  OUTPUT ${GEOLOC_ARCHIVE}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${GEOLOC_ARCHIVE_WORK}
  COMMAND ${CMAKE_LINKER} -r --whole-archive $<TARGET_FILE:geoloc> -o ${GEOLOC_ARCHIVE_WORK}/all.o
  COMMAND ${CMAKE_OBJCOPY} --wildcard --keep-global-symbol=geoloc_*
          ${GEOLOC_ARCHIVE_WORK}/all.o ${GEOLOC_ARCHIVE_WORK}/geoloc.o
  COMMAND ${CMAKE_COMMAND} -E rm -f ${GEOLOC_ARCHIVE}
  COMMAND ${CMAKE_AR} qc ${GEOLOC_ARCHIVE} ${GEOLOC_ARCHIVE_WORK}/geoloc.o
  COMMAND ${CMAKE_RANLIB} ${GEOLOC_ARCHIVE}
  DEPENDS geoloc
  COMMENT "Localising every non-geoloc_ symbol: libgeoloc.a"
  VERBATIM)
add_custom_target(geoloc_archive ALL DEPENDS ${GEOLOC_ARCHIVE})

# What a program linking libgeoloc.a needs: the public headers, the archive
# and the libraries its objects use (the same list as geoloc.pc).
add_library(geoloc_public INTERFACE)
add_dependencies(geoloc_public geoloc_archive)
target_include_directories(geoloc_public INTERFACE ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(geoloc_public INTERFACE ${GEOLOC_ARCHIVE}
  PkgConfig::GEOLOC_JPEG PkgConfig::GEOLOC_PNG PkgConfig::GEOLOC_WEBP PkgConfig::GEOLOC_EXIF
  PkgConfig::GEOLOC_HEIF PkgConfig::GEOLOC_JANSSON PkgConfig::GEOLOC_MHD PkgConfig::GEOLOC_CAIRO PkgConfig::GEOLOC_MSGPACK ${GEOLOC_DNNL} OpenMP::OpenMP_C Threads::Threads m
  $<$<BOOL:${GEOLOC_HAVE_MPI}>:MPI::MPI_C>)
