# Picks vector flags for the CPU kernels. The GEMM micro-kernels are compiled once per ISA
# (csrc/kernels/gemm_<isa>.cpp) and chosen at run time, so a portable build
# (BHARNET_NATIVE=OFF, the wheel default) still uses AVX2/AVX-512 where the CPU has them.
option(BHARNET_NATIVE "Compile the CPU kernels for this machine's CPU (-march=native)" OFF)
set(BHARNET_SIMD_FLAGS "")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  # fp-contract lets a*b+c become an FMA in the vector-extension code.
  list(APPEND BHARNET_SIMD_FLAGS -O3 -ffp-contract=fast)
  if(BHARNET_NATIVE)
    list(APPEND BHARNET_SIMD_FLAGS -march=native)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    # NEON is baseline on aarch64 (Jetson), nothing to add.
  endif()
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    # absolute paths: tests/cpp/CMakeLists.txt includes this file from another source directory
    get_filename_component(_bharnet_kdir "${CMAKE_CURRENT_LIST_DIR}/../csrc/kernels" ABSOLUTE)
    set_source_files_properties(${_bharnet_kdir}/gemm_avx2.cpp PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
    set_source_files_properties(${_bharnet_kdir}/gemm_avx512.cpp PROPERTIES
      COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx2;-mfma")
  endif()
endif()
