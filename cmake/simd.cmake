# Picks vector flags for the CPU kernels. The kernels also carry runtime dispatch,
# so a portable build (BHARNET_NATIVE=OFF) still runs everywhere.
option(BHARNET_NATIVE "Compile the CPU kernels for this machine's CPU (-march=native)" OFF)
set(BHARNET_SIMD_FLAGS "")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  list(APPEND BHARNET_SIMD_FLAGS -O3)
  if(BHARNET_NATIVE)
    list(APPEND BHARNET_SIMD_FLAGS -march=native)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    # NEON is baseline on aarch64 (Jetson), nothing to add.
  endif()
endif()
