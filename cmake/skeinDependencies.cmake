# skein's third-party dependencies (Debian bookworm packages), found the same
# way for skein's own build and for a project that does find_package(skein):
# the top-level CMakeLists.txt includes this file, and so does the installed
# skeinConfig.cmake. Libraries without a CMake package (CAF 0.17, RocksDB's
# shared library, msgpack's varying target name) become IMPORTED INTERFACE
# targets in the skein:: namespace, so the exported skein targets name them
# and a consumer's configure recreates them here.
include(CMakeFindDependencyMacro)

# find_dependency returns from the *calling* file on failure, which is what a
# package config wants; skein's own build calls this file with REQUIRED finds.
macro(_skein_find name)
  if(SKEIN_DEPENDENCIES_FOR_CONSUMER)
    find_dependency(${name} ${ARGN})
  else()
    find_package(${name} ${ARGN} REQUIRED)
  endif()
endmacro()

_skein_find(Threads)
_skein_find(Boost 1.74)                 # Beast + Asio, header-only
# bookworm's libmsgpack-cxx-dev: package "msgpack", target msgpackc-cxx
_skein_find(msgpack CONFIG PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake/msgpackc-cxx)
_skein_find(nlohmann_json 3)
_skein_find(spdlog)
_skein_find(CLI11)
_skein_find(prometheus-cpp CONFIG)      # libprometheus-cpp-dev: prometheus-cpp::core
_skein_find(PkgConfig)
if(NOT TARGET PkgConfig::XXHASH)
  pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
endif()
# Client tokens (net/auth.cpp): libjwt-dev (pkg-config libjwt) and OpenSSL's
# libcrypto (key checks, constant-time compare, random admin tokens).
_skein_find(OpenSSL)
if(NOT TARGET PkgConfig::JWT)
  pkg_check_modules(JWT REQUIRED IMPORTED_TARGET libjwt)
endif()

# jemalloc (libjemalloc-dev): the allocator skein's own node binaries link
# (skein-demo, skein, skein-test-app; not the unit tests or fuzzers). With
# glibc's malloc a loaded node spent over a quarter of its actor thread's
# samples in malloc and free (messages are built on one thread and freed on
# another, which glibc's per-thread caches do not absorb); with jemalloc
# three nodes on two cores carry about a fifth more chat messages per
# second (docs/benchmarks.md, "Lever: jemalloc"). An application links
# skein::jemalloc into its own binary the same way; it is not part of
# skein::skein, since the allocator is the executable's choice. Absent
# (no jemalloc.pc) the target is not defined.
if(NOT TARGET skein::jemalloc)
  pkg_check_modules(JEMALLOC QUIET IMPORTED_TARGET jemalloc)
  if(JEMALLOC_FOUND)
    add_library(skein::jemalloc INTERFACE IMPORTED)
    set_target_properties(skein::jemalloc PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::JEMALLOC)
  endif()
endif()

# CAF 0.17 ships no CMake config: find its libraries by name.
if(NOT TARGET skein::caf)
  find_path(SKEIN_CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  find_library(SKEIN_CAF_CORE_LIBRARY caf_core REQUIRED)
  find_library(SKEIN_CAF_IO_LIBRARY caf_io REQUIRED)
  # libcaf-openssl0.17: mutual TLS on the cluster port (--cluster-tls-dir).
  find_library(SKEIN_CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)
  add_library(skein::caf INTERFACE IMPORTED)
  set_target_properties(skein::caf PROPERTIES
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${SKEIN_CAF_INCLUDE_DIR}"
    INTERFACE_INCLUDE_DIRECTORIES "${SKEIN_CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${SKEIN_CAF_OPENSSL_LIBRARY};${SKEIN_CAF_IO_LIBRARY};${SKEIN_CAF_CORE_LIBRARY};Threads::Threads")
endif()

# RocksDB: the shared library (Debian's static target may be absent).
if(NOT TARGET skein::rocksdb)
  find_path(SKEIN_ROCKSDB_INCLUDE_DIR rocksdb/db.h REQUIRED)
  find_library(SKEIN_ROCKSDB_LIBRARY rocksdb REQUIRED)
  add_library(skein::rocksdb INTERFACE IMPORTED)
  set_target_properties(skein::rocksdb PROPERTIES
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${SKEIN_ROCKSDB_INCLUDE_DIR}"
    INTERFACE_INCLUDE_DIRECTORIES "${SKEIN_ROCKSDB_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${SKEIN_ROCKSDB_LIBRARY}")
endif()

if(NOT TARGET skein::msgpack)
  add_library(skein::msgpack INTERFACE IMPORTED)
  if(TARGET msgpack-cxx)
    set_target_properties(skein::msgpack PROPERTIES INTERFACE_LINK_LIBRARIES msgpack-cxx)
  else()
    set_target_properties(skein::msgpack PROPERTIES INTERFACE_LINK_LIBRARIES msgpackc-cxx)
  endif()
endif()
