# CMake toolchain for aarch64 Linux: Debian 11's cross GCC 10, unpacked by
# tools/aarch64/toolchain.sh into build/aarch64/toolchain (BHARNET_AARCH64_TOOLCHAIN overrides).
# That tree is also the sysroot: its glibc 2.31 and libstdc++ (GCC 10) set the wheel's floor,
# and nothing from the host's newer aarch64 libraries can leak in.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(DEFINED ENV{BHARNET_AARCH64_TOOLCHAIN})
  set(_bharnet_tc "$ENV{BHARNET_AARCH64_TOOLCHAIN}")
else()
  set(_bharnet_tc "${CMAKE_CURRENT_LIST_DIR}/../../build/aarch64/toolchain")
endif()
get_filename_component(_bharnet_tc "${_bharnet_tc}" ABSOLUTE)
if(NOT EXISTS "${_bharnet_tc}/usr/bin/aarch64-linux-gnu-g++-10")
  message(FATAL_ERROR "no aarch64 toolchain in ${_bharnet_tc}: run tools/aarch64/toolchain.sh")
endif()

set(CMAKE_SYSROOT "${_bharnet_tc}")
set(CMAKE_C_COMPILER "${_bharnet_tc}/usr/bin/aarch64-linux-gnu-gcc-10")
set(CMAKE_CXX_COMPILER "${_bharnet_tc}/usr/bin/aarch64-linux-gnu-g++-10")

set(CMAKE_FIND_ROOT_PATH "${_bharnet_tc}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# pybind11's CMake package lives in the (host) build environment
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
