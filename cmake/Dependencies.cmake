# Finds what diffuse builds with and decides the CUDA and MPI options.
# Sets DIFFUSE_HAS_CUDA / DIFFUSE_HAS_MPI (0 or 1) and imported targets.

find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)

# oneDNN: the CPU backend's GEMM (dnnl_sgemm) and convolutions. It picks its
# kernels from the CPU's instruction sets (AVX2, AVX-512, bf16, AMX) and runs on
# the same OpenMP thread pool as our loops.
find_path(DIFFUSE_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp)
find_library(DIFFUSE_DNNL_LIBRARY NAMES dnnl)
if(NOT DIFFUSE_DNNL_INCLUDE OR NOT DIFFUSE_DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found: install libdnnl-dev (scripts/setup.sh does), or point CMAKE_PREFIX_PATH "
                      "at a oneDNN 2.x installation")
endif()
# The convolutions use oneDNN 2's operation descriptors, which oneDNN 3 removed.
file(STRINGS "${DIFFUSE_DNNL_INCLUDE}/oneapi/dnnl/dnnl_version.h" DIFFUSE_DNNL_MAJOR REGEX "#define DNNL_VERSION_MAJOR")
string(REGEX MATCH "[0-9]+" DIFFUSE_DNNL_MAJOR "${DIFFUSE_DNNL_MAJOR}")
if(NOT DIFFUSE_DNNL_MAJOR EQUAL 2)
  message(FATAL_ERROR "oneDNN ${DIFFUSE_DNNL_MAJOR}.x found in ${DIFFUSE_DNNL_INCLUDE}; diffuse needs oneDNN 2.x "
                      "(Debian 12's libdnnl-dev, or gpu-deps/ through scripts/gpu_check.sh with DIFFUSE_USE_GPU_DEPS=1)")
endif()
add_library(diffuse_dnnl INTERFACE)
target_include_directories(diffuse_dnnl SYSTEM INTERFACE ${DIFFUSE_DNNL_INCLUDE})
target_link_libraries(diffuse_dnnl INTERFACE ${DIFFUSE_DNNL_LIBRARY})

find_package(HDF5 REQUIRED COMPONENTS C)

find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(DIFFUSE_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${DIFFUSE_CLI11_INCLUDE})
endif()

# ---- MPI ----------------------------------------------------------------------
set(DIFFUSE_HAS_MPI 0)
if(NOT DIFFUSE_MPI STREQUAL "OFF")
  if(DIFFUSE_MPI STREQUAL "ON")
    find_package(MPI REQUIRED COMPONENTS C)
  else()
    find_package(MPI COMPONENTS C)
  endif()
  if(MPI_C_FOUND)
    set(DIFFUSE_HAS_MPI 1)
  endif()
endif()

# ---- CUDA ---------------------------------------------------------------------
set(DIFFUSE_HAS_CUDA 0)
if(NOT DIFFUSE_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  # The oldest toolkit diffuse builds with: the CUDA, cuBLAS and cuBLASLt calls of core/cuda are all in 12.0
  # (built with 12.4 and 13.0). scripts/gpu_check.sh reads it from here.
  set(DIFFUSE_CUDA_FLOOR 12.0)
  set(DIFFUSE_CUDA_TOO_OLD OFF)
  if(CMAKE_CUDA_COMPILER)
    execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE DIFFUSE_NVCC_VERSION)
    string(REGEX MATCH "release ([0-9.]+)" DIFFUSE_NVCC_RELEASE "${DIFFUSE_NVCC_VERSION}")
    if(CMAKE_MATCH_1 AND CMAKE_MATCH_1 VERSION_LESS DIFFUSE_CUDA_FLOOR)
      set(DIFFUSE_CUDA_TOO_OLD ON)
      string(CONCAT DIFFUSE_CUDA_TOO_OLD_MESSAGE "${CMAKE_CUDA_COMPILER} is CUDA ${CMAKE_MATCH_1}; diffuse's CUDA "
                    "backend builds with CUDA ${DIFFUSE_CUDA_FLOOR} or newer")
      if(DIFFUSE_CUDA STREQUAL "ON")
        message(FATAL_ERROR "${DIFFUSE_CUDA_TOO_OLD_MESSAGE}: set CMAKE_CUDA_COMPILER to a newer toolkit's nvcc")
      endif()
      message(WARNING "${DIFFUSE_CUDA_TOO_OLD_MESSAGE}: building without it")
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER AND NOT DIFFUSE_CUDA_TOO_OLD)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)  # A100, H100/H200
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(DIFFUSE_CUDA_HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT} $ENV{CUDNN_ROOT} $ENV{NCCL_ROOT}
        ${DIFFUSE_GPU_DEPS})
    # Python wheels (nvidia-cudnn-*, nvidia-nccl-*) ship only versioned names such as libcudnn.so.9.
    find_path(DIFFUSE_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${DIFFUSE_CUDA_HINTS}
              PATH_SUFFIXES include)
    find_library(DIFFUSE_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${DIFFUSE_CUDA_HINTS} PATH_SUFFIXES lib lib64)
    find_path(DIFFUSE_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${DIFFUSE_CUDA_HINTS}
              PATH_SUFFIXES include)
    find_library(DIFFUSE_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${DIFFUSE_CUDA_HINTS} PATH_SUFFIXES lib lib64)
    # cuBLAS comes with the toolkit; a toolkit without it can use the nvidia-cublas wheel's.
    if(TARGET CUDA::cublas AND TARGET CUDA::cublasLt)
      set(DIFFUSE_CUBLAS_LIBRARIES CUDA::cublas CUDA::cublasLt)
    else()
      find_path(DIFFUSE_CUBLAS_INCLUDE cublas_v2.h HINTS ${DIFFUSE_CUDA_HINTS} $ENV{CUBLAS_ROOT} PATH_SUFFIXES include)
      find_library(DIFFUSE_CUBLAS_LIBRARY NAMES cublas libcublas.so.13 libcublas.so.12
                   HINTS ${DIFFUSE_CUDA_HINTS} $ENV{CUBLAS_ROOT} PATH_SUFFIXES lib lib64)
      find_library(DIFFUSE_CUBLASLT_LIBRARY NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12
                   HINTS ${DIFFUSE_CUDA_HINTS} $ENV{CUBLAS_ROOT} PATH_SUFFIXES lib lib64)
      if(DIFFUSE_CUBLAS_LIBRARY AND DIFFUSE_CUBLASLT_LIBRARY AND DIFFUSE_CUBLAS_INCLUDE)
        set(DIFFUSE_CUBLAS_LIBRARIES ${DIFFUSE_CUBLAS_LIBRARY} ${DIFFUSE_CUBLASLT_LIBRARY})
      endif()
    endif()
    if(DIFFUSE_CUDNN_LIBRARY AND DIFFUSE_NCCL_LIBRARY AND DIFFUSE_CUDNN_INCLUDE AND DIFFUSE_NCCL_INCLUDE
       AND DIFFUSE_CUBLAS_LIBRARIES)
      set(DIFFUSE_HAS_CUDA 1)
      add_library(diffuse_cuda_libs INTERFACE)
      target_include_directories(diffuse_cuda_libs SYSTEM INTERFACE ${DIFFUSE_CUDNN_INCLUDE} ${DIFFUSE_NCCL_INCLUDE}
                                 ${DIFFUSE_CUBLAS_INCLUDE})
      # The static runtime: a binary built with CUDA starts on machines with no driver.
      target_link_libraries(diffuse_cuda_libs INTERFACE CUDA::cudart_static ${DIFFUSE_CUBLAS_LIBRARIES}
                            ${DIFFUSE_CUDNN_LIBRARY} ${DIFFUSE_NCCL_LIBRARY})
      message(STATUS "diffuse: cuDNN ${DIFFUSE_CUDNN_LIBRARY}, NCCL ${DIFFUSE_NCCL_LIBRARY}, "
                     "cuBLAS ${DIFFUSE_CUBLAS_LIBRARIES}, CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}")
    elseif(DIFFUSE_CUDA STREQUAL "ON")
      message(FATAL_ERROR "DIFFUSE_CUDA=ON but cuDNN, NCCL or cuBLAS was not found (cudnn: ${DIFFUSE_CUDNN_LIBRARY} "
                          "in ${DIFFUSE_CUDNN_INCLUDE}, nccl: ${DIFFUSE_NCCL_LIBRARY} in ${DIFFUSE_NCCL_INCLUDE}, "
                          "cublas: ${DIFFUSE_CUBLAS_LIBRARIES}); set CUDNN_ROOT / NCCL_ROOT / CUBLAS_ROOT, or "
                          "DIFFUSE_GPU_DEPS to a folder holding include/ and lib/")
    endif()
  elseif(DIFFUSE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DIFFUSE_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
