// Lets kernels.cu compile with g++ for the host device: the CUDA built-ins a kernel sees (thread/block
// indices, __shared__, __syncthreads, warp shuffles, atomics, math intrinsics) mapped onto the fiber
// scheduler in host_runtime.cpp, where each CUDA thread is a cooperative fiber and each block runs on one OS thread.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <climits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
// One copy per block: a block's fibers all run on one OS thread, and blocks on other threads get their own.
#define __shared__ static thread_local

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };

inline float4 make_float4(float x, float y, float z, float w) { return float4{ x, y, z, w }; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return uint4{ x, y, z, w }; }

namespace fthost
{
    struct Lane;
    extern thread_local Lane* current_lane;
    extern thread_local uint3 block_idx;
    extern thread_local dim3 block_dim;
    extern thread_local dim3 grid_dim;
    const uint3& lane_thread_idx();
    void sync_block();
    unsigned int shuffle_xor(unsigned int bits, int lane_mask);
}

#define threadIdx (fthost::lane_thread_idx())
#define blockIdx (fthost::block_idx)
#define blockDim (fthost::block_dim)
#define gridDim (fthost::grid_dim)

inline void __syncthreads() { fthost::sync_block(); }

inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }

inline float __shfl_xor_sync(unsigned int, float v, int lane_mask)
{
    unsigned int bits;
    std::memcpy(&bits, &v, 4);
    bits = fthost::shuffle_xor(bits, lane_mask);
    std::memcpy(&v, &bits, 4);
    return v;
}

inline unsigned int __umulhi(unsigned int a, unsigned int b) { return (unsigned int)(((unsigned long long)a * b) >> 32); }

// Explicitly rounded ops: the host build uses -ffp-contract=off, so plain operators already round each step.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }

// Blocks may run on several OS threads, so atomics are real atomics.
inline float atomicAdd(float* address, float value)
{
    unsigned int* word = reinterpret_cast<unsigned int*>(address);
    unsigned int old = __atomic_load_n(word, __ATOMIC_RELAXED), next;
    do
    {
        float f;
        std::memcpy(&f, &old, 4);
        f += value;
        std::memcpy(&next, &f, 4);
    } while (!__atomic_compare_exchange_n(word, &old, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    float previous;
    std::memcpy(&previous, &old, 4);
    return previous;
}

inline unsigned long long atomicMin(unsigned long long* address, unsigned long long value)
{
    unsigned long long old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (value < old && !__atomic_compare_exchange_n(address, &old, value, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { }
    return old;
}
