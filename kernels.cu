// Every CUDA kernel of the engine. Compiled to PTX for compute_80 by tools/build-ptx.sh (the committed
// src/Kernels/Cuda/kernels.ptx) and, through src/Kernels/Cuda/Host/cuda_host_shim.h, with g++ for the host
// device that the tests run on. The CPU backend (src/Kernels/Cpu) is the reference for every kernel here.
//
// Conventions: float32 data, int32 ids, 64-bit element counts, grid-stride loops (any grid size is correct),
// block sizes are multiples of 32 and at most 1024. Kernels are extern "C" so PTX entry names are the plain
// names that CudaKernels.cs lists together with their parameter counts.

#ifndef __CUDACC__
#include "src/Kernels/Cuda/Host/cuda_host_shim.h"
#endif

// ---------------------------------------------------------------------------------------------------------
// Shared helpers: strided index walk, alignment test, NaN-propagating max, warp/block reductions.
// ---------------------------------------------------------------------------------------------------------

#define FT_MAX_RANK 8

// Shape and per-operand strides (elements) after the host collapsed contiguous dims; up to 4 operands.
struct StridedArgs
{
    int rank;
    int pad;
    long long shape[FT_MAX_RANK];
    long long stride[4][FT_MAX_RANK];
};

__device__ __forceinline__ bool aligned16(const void* p) { return (((unsigned long long)p) & 15ull) == 0; }

// Element offsets of linear index i for the first `ops` operands.
__device__ __forceinline__ void strided_offsets(const StridedArgs& s, long long i, int ops, long long* off)
{
    for (int o = 0; o < ops; o++) off[o] = 0;
    for (int d = s.rank - 1; d >= 0 && i > 0; d--)
    {
        long long q = i / s.shape[d];
        long long r = i - q * s.shape[d];
        i = q;
        for (int o = 0; o < ops; o++) off[o] += r * s.stride[o][d];
    }
}

// max that propagates NaN like the CPU's MathF.Max.
__device__ __forceinline__ float nan_max(float a, float b) { return (a != a || a > b) ? a : b; }

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum returned to every thread; blockDim.x is a multiple of 32. A one-warp block needs no shared stage: the
// xor butterfly leaves every lane with the same sum (each pair adds the same two values), and the host device, where
// every barrier is a fiber switch per thread, runs its rows one warp wide.
__device__ float block_sum(float v)
{
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (blockDim.x <= 32) return v;
    __syncthreads(); // readers of the previous call's partial[0] are done
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        v = threadIdx.x < (blockDim.x >> 5) ? partial[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) partial[0] = v;
    }
    __syncthreads();
    return partial[0];
}

__device__ float block_max(float v)
{
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_max(v);
    if (blockDim.x <= 32) return v;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        v = threadIdx.x < (blockDim.x >> 5) ? partial[lane] : -INFINITY;
        v = warp_max(v);
        if (lane == 0) partial[0] = v;
    }
    __syncthreads();
    return partial[0];
}

__device__ __forceinline__ long long global_thread() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }

__device__ __forceinline__ long long grid_threads() { return (long long)gridDim.x * blockDim.x; }

// ---------------------------------------------------------------------------------------------------------
// Elementwise unary forward/backward and fill. Op codes are the UnaryOp enum values (src/Kernels/UnaryOp.cs,
// in the same order; tests/Cuda/KernelCodeMirrorTests.cs checks it).
// ---------------------------------------------------------------------------------------------------------

enum UnaryCode
{
    U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_RELU, U_SIGMOID, U_GELU_ERF, U_GELU_TANH,
    U_SCALE, U_POW, U_ADD_SCALAR, U_DROPOUT_MASK, U_ABS
};

#define FT_INV_SQRT2 0.70710678118654752f
#define FT_INV_SQRT2PI 0.39894228040143268f
#define FT_SQRT2_OVER_PI 0.79788456080286536f
#define FT_GELU_COEF 0.044715f

__device__ __forceinline__ float unary_apply(int op, float x, float a)
{
    switch (op)
    {
    case U_NEG: return -x;
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_SQRT: return sqrtf(x);
    case U_RSQRT: return 1.0f / sqrtf(x);
    case U_TANH: return tanhf(x);
    case U_RELU: return x > 0.0f ? x : 0.0f;
    case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case U_GELU_ERF: return 0.5f * x * (1.0f + erff(x * FT_INV_SQRT2));
    case U_GELU_TANH: return 0.5f * x * (1.0f + tanhf(FT_SQRT2_OVER_PI * (x + FT_GELU_COEF * x * x * x)));
    case U_SCALE: return x * a;
    case U_POW: return a == 2.0f ? x * x : powf(x, a);
    case U_ADD_SCALAR: return x + a;
    case U_DROPOUT_MASK: return x >= a ? 1.0f / (1.0f - a) : 0.0f;
    case U_ABS: return fabsf(x);
    default: return __int_as_float(0x7fc00000);
    }
}

// gy·f'(x) given the forward output y.
__device__ __forceinline__ float unary_grad(int op, float x, float y, float gy, float a)
{
    switch (op)
    {
    case U_NEG: return -gy;
    case U_EXP: return gy * y;
    case U_LOG: return gy / x;
    case U_SQRT: return gy * 0.5f / y;
    case U_RSQRT: return -0.5f * gy * y * y * y;
    case U_TANH: return gy * (1.0f - y * y);
    case U_RELU: return x > 0.0f ? gy : 0.0f;
    case U_SIGMOID: return gy * y * (1.0f - y);
    case U_GELU_ERF:
        return gy * (0.5f * (1.0f + erff(x * FT_INV_SQRT2)) + x * FT_INV_SQRT2PI * expf(-0.5f * x * x));
    case U_GELU_TANH:
    {
        float t = tanhf(FT_SQRT2_OVER_PI * (x + FT_GELU_COEF * x * x * x));
        float d = FT_SQRT2_OVER_PI * (1.0f + 3.0f * FT_GELU_COEF * x * x);
        return gy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * d);
    }
    case U_SCALE: return gy * a;
    case U_POW: return gy * a * (a == 2.0f ? x : powf(x, a - 1.0f));
    case U_ADD_SCALAR: return gy;
    case U_ABS: return x > 0.0f ? gy : (x < 0.0f ? -gy : 0.0f);
    default: return __int_as_float(0x7fc00000);
    }
}

extern "C" __global__ void unary_f32(int op, float arg, const float* x, float* y, long long n)
{
    long long t = global_thread(), step = grid_threads(), head = 0;
    if (aligned16(x) && aligned16(y))
    {
        long long n4 = n >> 2;
        const float4* x4 = reinterpret_cast<const float4*>(x);
        float4* y4 = reinterpret_cast<float4*>(y);
        for (long long i = t; i < n4; i += step)
        {
            float4 v = x4[i];
            v.x = unary_apply(op, v.x, arg);
            v.y = unary_apply(op, v.y, arg);
            v.z = unary_apply(op, v.z, arg);
            v.w = unary_apply(op, v.w, arg);
            y4[i] = v;
        }
        head = n4 << 2;
    }
    for (long long i = head + t; i < n; i += step) y[i] = unary_apply(op, x[i], arg);
}

extern "C" __global__ void unary_backward_f32(int op, float arg, const float* x, const float* y, const float* gy, float* gx, long long n)
{
    long long t = global_thread(), step = grid_threads(), head = 0;
    if (aligned16(x) && aligned16(y) && aligned16(gy) && aligned16(gx))
    {
        long long n4 = n >> 2;
        const float4* x4 = reinterpret_cast<const float4*>(x);
        const float4* y4 = reinterpret_cast<const float4*>(y);
        const float4* g4 = reinterpret_cast<const float4*>(gy);
        float4* o4 = reinterpret_cast<float4*>(gx);
        for (long long i = t; i < n4; i += step)
        {
            float4 a = x4[i], b = y4[i], g = g4[i], r;
            r.x = unary_grad(op, a.x, b.x, g.x, arg);
            r.y = unary_grad(op, a.y, b.y, g.y, arg);
            r.z = unary_grad(op, a.z, b.z, g.z, arg);
            r.w = unary_grad(op, a.w, b.w, g.w, arg);
            o4[i] = r;
        }
        head = n4 << 2;
    }
    for (long long i = head + t; i < n; i += step) gx[i] = unary_grad(op, x[i], y[i], gy[i], arg);
}

extern "C" __global__ void fill_f32(float* y, float value, long long n)
{
    long long t = global_thread(), step = grid_threads(), head = 0;
    if (aligned16(y))
    {
        long long n4 = n >> 2;
        float4 v = make_float4(value, value, value, value);
        float4* y4 = reinterpret_cast<float4*>(y);
        for (long long i = t; i < n4; i += step) y4[i] = v;
        head = n4 << 2;
    }
    for (long long i = head + t; i < n; i += step) y[i] = value;
}

// ---------------------------------------------------------------------------------------------------------
// Binary ops, where and strided copy: broadcasting is a stride of 0, so one strided walk serves all.
// ---------------------------------------------------------------------------------------------------------

// The BinaryOp enum values (src/Kernels/BinaryOp.cs), in order; tests/Cuda/KernelCodeMirrorTests.cs checks it.
enum BinaryCode { B_ADD, B_SUB, B_MUL, B_DIV, B_EQ, B_GT };

__device__ __forceinline__ float binary_apply(int op, float a, float b)
{
    switch (op)
    {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_EQ: return a == b ? 1.0f : 0.0f;
    case B_GT: return a > b ? 1.0f : 0.0f;
    default: return __int_as_float(0x7fc00000);
    }
}

extern "C" __global__ void binary_f32(int op, const float* a, const float* b, float* c, long long n, StridedArgs s)
{
    long long t = global_thread(), step = grid_threads();
    bool dense = s.rank == 1 && s.stride[0][0] == 1 && s.stride[1][0] == 1 && s.stride[2][0] == 1;
    if (dense && aligned16(a) && aligned16(b) && aligned16(c))
    {
        long long n4 = n >> 2;
        const float4* a4 = reinterpret_cast<const float4*>(a);
        const float4* b4 = reinterpret_cast<const float4*>(b);
        float4* c4 = reinterpret_cast<float4*>(c);
        for (long long i = t; i < n4; i += step)
        {
            float4 x = a4[i], y = b4[i], r;
            r.x = binary_apply(op, x.x, y.x);
            r.y = binary_apply(op, x.y, y.y);
            r.z = binary_apply(op, x.z, y.z);
            r.w = binary_apply(op, x.w, y.w);
            c4[i] = r;
        }
        for (long long i = (n4 << 2) + t; i < n; i += step) c[i] = binary_apply(op, a[i], b[i]);
        return;
    }
    for (long long i = t; i < n; i += step)
    {
        long long off[3];
        strided_offsets(s, i, 3, off);
        c[off[2]] = binary_apply(op, a[off[0]], b[off[1]]);
    }
}

extern "C" __global__ void where_f32(const float* cond, const float* a, const float* b, float* out, long long n, StridedArgs s)
{
    for (long long i = global_thread(); i < n; i += grid_threads())
    {
        long long off[4];
        strided_offsets(s, i, 4, off);
        out[off[3]] = cond[off[0]] != 0.0f ? a[off[1]] : b[off[2]];
    }
}

// Copies by bit pattern, so float32/int32 share the 32-bit kernel and float16/bfloat16 the 16-bit one.
extern "C" __global__ void copy_b32(const unsigned int* src, unsigned int* dst, long long n, StridedArgs s)
{
    for (long long i = global_thread(); i < n; i += grid_threads())
    {
        long long off[2];
        strided_offsets(s, i, 2, off);
        dst[off[1]] = src[off[0]];
    }
}

extern "C" __global__ void copy_b16(const unsigned short* src, unsigned short* dst, long long n, StridedArgs s)
{
    for (long long i = global_thread(); i < n; i += grid_threads())
    {
        long long off[2];
        strided_offsets(s, i, 2, off);
        dst[off[1]] = src[off[0]];
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reductions over the middle dim of [outer, extent, inner]: one block per row when inner == 1 (a single long
// row goes through fixed chunks first, so the whole device works on it); otherwise a
// 32×8 block per tile of 32 outputs, where 8 rows of threads split the extent and their partials combine in
// row order (coalesced across inner, deterministic). Order is fixed per launch shape.
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void reduce_rows_f32(int op, const float* x, float* y, int rows, int extent)
{
    for (long long r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* row = x + r * extent;
        float acc = op == 0 ? 0.0f : -INFINITY;
        for (int j = threadIdx.x; j < extent; j += blockDim.x) acc = op == 0 ? acc + row[j] : nan_max(acc, row[j]);
        acc = op == 0 ? block_sum(acc) : block_max(acc);
        if (threadIdx.x == 0) y[r] = acc;
    }
}

// First pass of one long reduction: block b reduces elements [b·chunk, (b+1)·chunk) into partial[b]; the host
// then reduces the partials with reduce_rows_f32, so the order depends only on n and chunk.
extern "C" __global__ void reduce_chunks_f32(int op, const float* x, float* partial, long long n, long long chunk)
{
    for (long long b = blockIdx.x; b * chunk < n; b += gridDim.x)
    {
        long long end = (b + 1) * chunk < n ? (b + 1) * chunk : n;
        float acc = op == 0 ? 0.0f : -INFINITY;
        for (long long i = b * chunk + threadIdx.x; i < end; i += blockDim.x) acc = op == 0 ? acc + x[i] : nan_max(acc, x[i]);
        acc = op == 0 ? block_sum(acc) : block_max(acc);
        if (threadIdx.x == 0) partial[b] = acc;
    }
}

#define FT_TILE_ROWS 8

// blockDim = (32, FT_TILE_ROWS).
extern "C" __global__ void reduce_cols_f32(int op, const float* x, float* y, int outer, int extent, int inner)
{
    __shared__ float partial[FT_TILE_ROWS][33];
    long long col_tiles = (inner + 31) / 32, tiles = (long long)outer * col_tiles;
    for (long long t = blockIdx.x; t < tiles; t += gridDim.x)
    {
        long long o = t / col_tiles, j = (t - o * col_tiles) * 32 + threadIdx.x;
        float acc = op == 0 ? 0.0f : -INFINITY;
        if (j < inner)
        {
            const float* src = x + o * extent * (long long)inner + j;
            for (int k = threadIdx.y; k < extent; k += blockDim.y)
            {
                float v = src[(long long)k * inner];
                acc = op == 0 ? acc + v : nan_max(acc, v);
            }
        }
        partial[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && j < inner)
        {
            for (int r = 1; r < (int)blockDim.y; r++) acc = op == 0 ? acc + partial[r][threadIdx.x] : nan_max(acc, partial[r][threadIdx.x]);
            y[o * inner + j] = acc;
        }
        __syncthreads();
    }
}

// ---------------------------------------------------------------------------------------------------------
// Softmax and log-softmax of each row of scale·x + mask, forward and backward: one block per row, block
// reductions. Row r adds mask row (r / mask_div) % mask_rows (attention's [B, 1, 1, T] padding mask over
// [B, heads, T, T] scores); mask may be null. z is recomputed in each pass rather than stored.
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void softmax_f32(int log_softmax, const float* x, float* y, int rows, int cols,
                                       float scale, const float* mask, int mask_rows, long long mask_div)
{
    for (long long r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + r * cols;
        const float* mr = mask ? mask + (r / mask_div % mask_rows) * cols : nullptr;
        float* yr = y + r * cols;
        float m = -INFINITY;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) m = nan_max(m, mr ? fmaf(xr[j], scale, mr[j]) : xr[j] * scale);
        m = block_max(m);
        float s = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf((mr ? fmaf(xr[j], scale, mr[j]) : xr[j] * scale) - m);
        s = block_sum(s);
        float ls = logf(s), inv = 1.0f / s;
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
        {
            float z = (mr ? fmaf(xr[j], scale, mr[j]) : xr[j] * scale) - m;
            yr[j] = log_softmax ? z - ls : expf(z) * inv;
        }
    }
}

extern "C" __global__ void softmax_backward_f32(int log_softmax, const float* y, const float* gy, float* gx, int rows, int cols, float scale)
{
    for (long long r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* yr = y + r * cols;
        const float* gr = gy + r * cols;
        float* xr = gx + r * cols;
        float s = 0.0f;
        // log: gx = scale·(gy - softmax·Σgy); softmax: gx = scale·y·(gy - Σ y·gy)
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += log_softmax ? gr[j] : yr[j] * gr[j];
        s = block_sum(s);
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
            xr[j] = scale * (log_softmax ? gr[j] - expf(yr[j]) * s : yr[j] * (gr[j] - s));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Layer norm over the last dim: two-pass mean/variance per row (as the CPU does); the backward splits into
// per-row gx and per-column gw/gb (columns walk rows in order, so gw/gb are deterministic without atomics).
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void layer_norm_f32(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
    int rows, int cols, float eps)
{
    for (long long r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + r * cols;
        float* yr = y + r * cols;
        float s = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
        float mu = block_sum(s) / cols;
        float q = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
        {
            float d = xr[j] - mu;
            q += d * d;
        }
        float var = block_sum(q) / cols;
        float rs = 1.0f / sqrtf(var + eps);
        if (threadIdx.x == 0)
        {
            mean[r] = mu;
            rstd[r] = rs;
        }
        for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
    }
}

extern "C" __global__ void layer_norm_backward_dx_f32(const float* x, const float* w, const float* mean, const float* rstd,
    const float* gy, float* gx, int rows, int cols)
{
    for (long long r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* xr = x + r * cols;
        const float* gr = gy + r * cols;
        float* out = gx + r * cols;
        float mu = mean[r], rs = rstd[r];
        float sg = 0.0f, sgx = 0.0f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
        {
            float g = gr[j] * w[j];
            sg += g;
            sgx += g * (xr[j] - mu) * rs;
        }
        float meanG = block_sum(sg) / cols;
        float meanGx = block_sum(sgx) / cols;
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
        {
            float xhat = (xr[j] - mu) * rs;
            out[j] = rs * (gr[j] * w[j] - meanG - xhat * meanGx);
        }
    }
}

// Accumulates into gw/gb (zeroed by the caller, as on the CPU). blockDim = (32, FT_TILE_ROWS): a tile of 32
// columns, rows split across the 8 thread rows and combined in row order, so the result is deterministic.
extern "C" __global__ void layer_norm_backward_dwdb_f32(const float* x, const float* mean, const float* rstd, const float* gy,
    float* gw, float* gb, int rows, int cols)
{
    __shared__ float part_w[FT_TILE_ROWS][33];
    __shared__ float part_b[FT_TILE_ROWS][33];
    for (long long tile = blockIdx.x; tile * 32 < cols; tile += gridDim.x)
    {
        long long j = tile * 32 + threadIdx.x;
        float sw = 0.0f, sb = 0.0f;
        if (j < cols)
        {
            for (long long r = threadIdx.y; r < rows; r += blockDim.y)
            {
                float g = gy[r * cols + j];
                sw += g * (x[r * cols + j] - mean[r]) * rstd[r];
                sb += g;
            }
        }
        part_w[threadIdx.y][threadIdx.x] = sw;
        part_b[threadIdx.y][threadIdx.x] = sb;
        __syncthreads();
        if (threadIdx.y == 0 && j < cols)
        {
            for (int k = 1; k < (int)blockDim.y; k++)
            {
                sw += part_w[k][threadIdx.x];
                sb += part_b[k][threadIdx.x];
            }
            gw[j] += sw;
            gb[j] += sb;
        }
        __syncthreads();
    }
}

// ---------------------------------------------------------------------------------------------------------
// Index kernels: id validation (first bad position into a device flag the host reads back), embedding
// gather and scatter-add (atomics), negative log-likelihood forward/backward with an ignore index.
// ---------------------------------------------------------------------------------------------------------

// first_bad must hold ULLONG_MAX before the launch; afterwards it holds the smallest bad position, if any.
extern "C" __global__ void validate_index_i32(const int* ids, long long n, int limit, int use_ignore, int ignore,
    unsigned long long* first_bad)
{
    for (long long i = global_thread(); i < n; i += grid_threads())
    {
        int v = ids[i];
        if (use_ignore && v == ignore) continue;
        if ((unsigned int)v >= (unsigned int)limit) atomicMin(first_bad, (unsigned long long)i);
    }
}

extern "C" __global__ void gather_f32(const float* table, const int* ids, long long count, int cols, float* out)
{
    long long total = count * cols;
    for (long long i = global_thread(); i < total; i += grid_threads())
    {
        long long row = i / cols, c = i - row * cols;
        out[i] = table[(long long)ids[row] * cols + c];
    }
}

extern "C" __global__ void scatter_add_f32(const float* g_out, const int* ids, long long count, int cols, float* g_table)
{
    long long total = count * cols;
    for (long long i = global_thread(); i < total; i += grid_threads())
    {
        long long row = i / cols, c = i - row * cols;
        atomicAdd(g_table + (long long)ids[row] * cols + c, g_out[i]);
    }
}

extern "C" __global__ void nll_loss_f32(const float* logp, const int* targets, int rows, int classes, int ignore,
    float* loss, float* weight)
{
    for (long long r = global_thread(); r < rows; r += grid_threads())
    {
        int t = targets[r];
        bool skip = t == ignore;
        loss[r] = skip ? 0.0f : -logp[r * classes + t];
        weight[r] = skip ? 0.0f : 1.0f;
    }
}

extern "C" __global__ void nll_loss_backward_f32(const float* g_loss, const int* targets, int rows, int classes, int ignore,
    float* g_logp)
{
    long long total = (long long)rows * classes;
    for (long long i = global_thread(); i < total; i += grid_threads())
    {
        long long r = i / classes;
        int c = (int)(i - r * classes), t = targets[r];
        g_logp[i] = (t != ignore && c == t) ? -g_loss[r] : 0.0f;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Optimizer: AdamW with the CPU's exact operation order (explicitly rounded ops, so no FMA contraction):
// the same inputs give the same bits on both backends.
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void adamw_f32(float* p, const float* g, float* m, float* v, long long n,
    float b1, float b2, float c1, float c2, float step_size, float inv_sqrt_bias2, float eps, float decay)
{
    for (long long i = global_thread(); i < n; i += grid_threads())
    {
        float gi = g[i];
        float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(c1, gi));
        float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(__fmul_rn(c2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        float denom = __fadd_rn(__fmul_rn(sqrtf(vi), inv_sqrt_bias2), eps);
        p[i] = __fsub_rn(__fmul_rn(p[i], decay), __fdiv_rn(__fmul_rn(step_size, mi), denom));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Random numbers: Philox4x32-10 exactly as Philox.cs; element i uses counter offset + i/4, lane i%4.
// One thread per counter block writes its four elements.
// ---------------------------------------------------------------------------------------------------------

__device__ __forceinline__ uint4 philox4x32_10(unsigned long long seed, unsigned long long counter)
{
    unsigned int c0 = (unsigned int)counter, c1 = (unsigned int)(counter >> 32), c2 = 0, c3 = 0;
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    for (int round = 0; round < 10; round++)
    {
        unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        unsigned int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return make_uint4(c0, c1, c2, c3);
}

__device__ __forceinline__ float philox_unit(unsigned int bits) { return (float)(bits >> 8) * (1.0f / 16777216.0f); }

extern "C" __global__ void random_uniform_f32(unsigned long long seed, unsigned long long offset, long long n, float low, float high, float* out)
{
    float range = high - low;
    long long blocks = (n + 3) >> 2;
    for (long long blk = global_thread(); blk < blocks; blk += grid_threads())
    {
        uint4 r = philox4x32_10(seed, offset + (unsigned long long)blk);
        unsigned int lanes[4] = { r.x, r.y, r.z, r.w };
        for (int l = 0; l < 4; l++)
        {
            long long i = blk * 4 + l;
            if (i < n) out[i] = __fadd_rn(low, __fmul_rn(range, philox_unit(lanes[l])));
        }
    }
}

extern "C" __global__ void random_normal_f32(unsigned long long seed, unsigned long long offset, long long n, float mean, float std, float* out)
{
    const float two_pi = 2.0f * 3.14159265358979f;
    long long blocks = (n + 3) >> 2;
    for (long long blk = global_thread(); blk < blocks; blk += grid_threads())
    {
        uint4 r = philox4x32_10(seed, offset + (unsigned long long)blk);
        unsigned int lanes[4] = { r.x, r.y, r.z, r.w };
        for (int pair = 0; pair < 4; pair += 2)
        {
            // 1 - u keeps the log argument in (0, 1].
            float u1 = 1.0f - philox_unit(lanes[pair]);
            float u2 = philox_unit(lanes[pair + 1]);
            float radius = sqrtf(-2.0f * logf(u1));
            float theta = two_pi * u2;
            float z[2] = { __fmul_rn(radius, cosf(theta)), __fmul_rn(radius, sinf(theta)) };
            for (int l = 0; l < 2; l++)
            {
                long long i = blk * 4 + pair + l;
                if (i < n) out[i] = __fadd_rn(mean, __fmul_rn(std, z[l]));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fused LoRA, version 2 of the LoRA path (version 1 is the composed ops): y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ with
// x [rows, in], A [rank, in], B [out, rank]. cuBLAS writes the base x·Wᵀ + b; these kernels do the rest with
// u = drop(x)·Aᵀ [rows, rank] the only intermediate, and lora_up updates y in place. Dropout is element t·in + i of
// the Philox stream, kept with factor `keep` = 1/(1-p) where its uniform is ≥ p (random_uniform_f32 followed by the
// dropout mask would give the same floats); it is drawn again in backward, never stored; p = 0 draws nothing.
// Row-reducing kernels take one block per row and FT_LORA_GROUP rank columns per sweep over the row (each element's
// dropout is drawn once per group); column sums walk t in order, so every result is deterministic.
// ---------------------------------------------------------------------------------------------------------

#define FT_LORA_GROUP 16

__device__ __forceinline__ float lora_keep(unsigned long long seed, unsigned long long offset, long long e, float p, float keep)
{
    if (p <= 0.0f) return 1.0f;
    uint4 r = philox4x32_10(seed, offset + (unsigned long long)(e >> 2));
    unsigned int lanes[4] = { r.x, r.y, r.z, r.w };
    return philox_unit(lanes[e & 3]) >= p ? keep : 0.0f;
}

// out[t, j] = scale·Σᵢ v(t, i)·panel[j·js + i·is], v(t, i) = rows[t, i]·keep(t·n + i) (p = 0: rows[t, i]); one block per row.
__device__ void lora_row_dots(const float* rows, const float* panel, long long js, long long is, float* out, long long nrows, int n,
                              int rank, float scale, unsigned long long seed, unsigned long long offset, float p, float keep)
{
    for (long long t = blockIdx.x; t < nrows; t += gridDim.x)
    {
        const float* row = rows + t * n;
        for (int j0 = 0; j0 < rank; j0 += FT_LORA_GROUP)
        {
            int nj = rank - j0 < FT_LORA_GROUP ? rank - j0 : FT_LORA_GROUP;
            float acc[FT_LORA_GROUP];
            for (int jj = 0; jj < FT_LORA_GROUP; jj++) acc[jj] = 0.0f;
            for (int i = threadIdx.x; i < n; i += blockDim.x)
            {
                float v = __fmul_rn(row[i], lora_keep(seed, offset, t * n + i, p, keep));
                for (int jj = 0; jj < nj; jj++) acc[jj] += v * panel[(j0 + jj) * js + i * is];
            }
            for (int jj = 0; jj < nj; jj++)
            {
                float s = block_sum(acc[jj]);
                if (threadIdx.x == 0) out[t * rank + j0 + jj] = scale * s;
            }
        }
    }
}

// u[t, j] = Σᵢ drop(x)[t, i]·A[j, i].
extern "C" __global__ void lora_down_f32(const float* x, const float* a, float* u, long long rows, int in, int rank,
                                         unsigned long long seed, unsigned long long offset, float p, float keep)
{
    lora_row_dots(x, a, in, 1, u, rows, in, rank, 1.0f, seed, offset, p, keep);
}

// out[t, i] += keep(t·n + i)·scale·Σⱼ coef[t, j]·panel[j·js + i·is] over rows × n elements (p = 0: keep 1).
__device__ void lora_rows_times_panel(const float* coef, const float* panel, long long js, long long is, float* out, long long rows, int n,
                                      int rank, float scale, unsigned long long seed, unsigned long long offset, float p, float keep)
{
    long long total = rows * n;
    for (long long idx = global_thread(); idx < total; idx += grid_threads())
    {
        long long t = idx / n;
        int i = (int)(idx % n);
        float s = 0.0f;
        for (int j = 0; j < rank; j++) s += coef[t * rank + j] * panel[j * js + i * is];
        out[idx] += __fmul_rn(lora_keep(seed, offset, idx, p, keep), scale * s);
    }
}

// y[t, o] += scale·Σⱼ u[t, j]·B[o, j], in place.
extern "C" __global__ void lora_up_f32(const float* u, const float* b, float* y, long long rows, int out, int rank, float scale)
{
    lora_rows_times_panel(u, b, 1, rank, y, rows, out, rank, scale, 0, 0, 0.0f, 1.0f);
}

// gu[t, j] = scale·Σₒ g[t, o]·B[o, j].
extern "C" __global__ void lora_up_backward_gu_f32(const float* g, const float* b, float* gu, long long rows, int out, int rank,
                                                   float scale)
{
    lora_row_dots(g, b, 1, rank, gu, rows, out, rank, scale, 0, 0, 0.0f, 1.0f);
}

// gB[o, j] = scale·Σₜ g[t, o]·u[t, j].
extern "C" __global__ void lora_up_backward_gb_f32(const float* g, const float* u, float* gb, long long rows, int out, int rank,
                                                   float scale)
{
    long long n = (long long)out * rank;
    for (long long idx = global_thread(); idx < n; idx += grid_threads())
    {
        int o = (int)(idx / rank), j = (int)(idx % rank);
        float s = 0.0f;
        for (long long t = 0; t < rows; t++) s += g[t * out + o] * u[t * rank + j];
        gb[idx] = scale * s;
    }
}

// gx[t, i] += keep(t·in + i)·Σⱼ gu[t, j]·A[j, i]: the low-rank term added onto cuBLAS's g·W.
extern "C" __global__ void lora_down_backward_gx_f32(const float* a, const float* gu, float* gx, long long rows, int in, int rank,
                                                     unsigned long long seed, unsigned long long offset, float p, float keep)
{
    lora_rows_times_panel(gu, a, in, 1, gx, rows, in, rank, 1.0f, seed, offset, p, keep);
}

// gA[j, i] = Σₜ gu[t, j]·drop(x)[t, i].
extern "C" __global__ void lora_down_backward_ga_f32(const float* x, const float* gu, float* ga, long long rows, int in, int rank,
                                                     unsigned long long seed, unsigned long long offset, float p, float keep)
{
    long long n = (long long)rank * in;
    for (long long idx = global_thread(); idx < n; idx += grid_threads())
    {
        int j = (int)(idx / in), i = (int)(idx % in);
        float s = 0.0f;
        for (long long t = 0; t < rows; t++)
            s += gu[t * rank + j] * __fmul_rn(x[t * in + i], lora_keep(seed, offset, t * in + i, p, keep));
        ga[idx] = s;
    }
}

// QKV form: up to three adapters of one x (query, key, value) in one launch. Each part keeps its own dropout stream, so
// the results equal separate lora_down / lora_down_backward_gx launches; unused parts have rank 0.
#define FT_LORA_PART(n) const float* a##n, float* u##n, int r##n, unsigned long long s##n, unsigned long long o##n, float p##n, float k##n

// u_p[t, j] = Σᵢ drop_p(x)[t, i]·A_p[j, i] for every part; a block's rows are still in cache for the next part.
extern "C" __global__ void lora_down_qkv_f32(const float* x, long long rows, int in, FT_LORA_PART(0), FT_LORA_PART(1), FT_LORA_PART(2))
{
    lora_row_dots(x, a0, in, 1, u0, rows, in, r0, 1.0f, s0, o0, p0, k0);
    lora_row_dots(x, a1, in, 1, u1, rows, in, r1, 1.0f, s1, o1, p1, k1);
    lora_row_dots(x, a2, in, 1, u2, rows, in, r2, 1.0f, s2, o2, p2, k2);
}

__device__ __forceinline__ float lora_part_term(const float* a, const float* gu, int rank, long long t, int i, int in, long long idx,
                                                unsigned long long seed, unsigned long long offset, float p, float keep)
{
    if (rank == 0) return 0.0f;
    float s = 0.0f;
    for (int j = 0; j < rank; j++) s += gu[t * rank + j] * a[(long long)j * in + i];
    return __fmul_rn(lora_keep(seed, offset, idx, p, keep), s);
}

// gx[t, i] += Σ_p keep_p(t·in + i)·Σⱼ gu_p[t, j]·A_p[j, i]: the three low-rank terms of dX in one pass (u_p holds gu_p).
extern "C" __global__ void lora_down_backward_qkv_gx_f32(float* gx, long long rows, int in, FT_LORA_PART(0), FT_LORA_PART(1),
                                                         FT_LORA_PART(2))
{
    long long total = rows * in;
    for (long long idx = global_thread(); idx < total; idx += grid_threads())
    {
        long long t = idx / in;
        int i = (int)(idx % in);
        float acc = lora_part_term(a0, u0, r0, t, i, in, idx, s0, o0, p0, k0);
        acc += lora_part_term(a1, u1, r1, t, i, in, idx, s1, o1, p1, k1);
        acc += lora_part_term(a2, u2, r2, t, i, in, idx, s2, o2, p2, k2);
        gx[idx] += acc;
    }
}

// ---------------------------------------------------------------------------------------------------------
// GEMM epilogues (IEpilogueKernels): cuBLAS writes z = x·Wᵀ [rows, out]; one elementwise pass then makes
// y = residual + drop(act(z + bias)) in place, keeping z + bias in pre when act's backward needs it. Dropout
// element (t, o) is stream element t·out + o, drawn with the Fused LoRA family's Philox keep-scale, so the
// composed dropout, the CPU epilogue and these kernels drop the same elements. Elementwise only: no shared
// memory and no __syncthreads, so each host-device fiber runs straight through.
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void linear_epilogue_f32(float* y, const float* bias, const float* residual, float* pre, long long rows,
                                               int out, int gelu, unsigned long long seed, unsigned long long offset, float p,
                                               float keep)
{
    long long n = rows * out;
    for (long long e = global_thread(); e < n; e += grid_threads())
    {
        float z = y[e];
        if (bias) z = __fadd_rn(z, bias[e % out]);
        if (pre) pre[e] = z;
        if (gelu) z = unary_apply(U_GELU_ERF, z, 0.0f);
        if (p > 0.0f) z = __fmul_rn(z, lora_keep(seed, offset, e, p, keep));
        if (residual) z = __fadd_rn(residual[e], z);
        y[e] = z;
    }
}

// gx = gy·keep-scale(e): dropout's backward with the mask drawn again.
extern "C" __global__ void dropout_backward_f32(const float* gy, float* gx, long long n, unsigned long long seed,
                                                unsigned long long offset, float p, float keep)
{
    for (long long e = global_thread(); e < n; e += grid_threads()) gx[e] = __fmul_rn(gy[e], lora_keep(seed, offset, e, p, keep));
}

// ---------------------------------------------------------------------------------------------------------
// Fused attention (FlashAttention-2 structure; src/Kernels/IAttentionKernels.cs, CPU twin Cpu/AttentionKernels.cs).
// Per (batch, head): O = drop(softmax(scale·Q·Kᵀ + mask))·V without a [Tq, Tk] tensor. Q, K, V and dO come with
// their own [B, T, H, d] strides (head dim contiguous); O, dQ, dK, dV are packed. A block is one warp and each lane
// owns one row (a query in the forward and dQ, a key in dK/dV), so all lanes read the same key (or query) element
// at once: a broadcast load, no shared tile and no __syncthreads (which also keeps the host device, where every
// sync is a fiber switch per lane, fast). Keys go in tiles of FT_ATTN_TILE with an online softmax that rescales the
// lane's output row once per tile. The forward keeps two statistics per query row, the max m and log Σ exp(z − m)
// (not their sum, which rounds to m when m is BERT's −1e9 of a fully padded row); the backward recomputes
// P = exp((z − m) − log Σ). Dropout of probability (b, h, i, j) is element ((b·H + h)·Tq + i)·Tk + j of the Philox
// stream (the composed dropout's element), drawn again in backward. dQ and dK/dV are separate kernels, each output
// row owned by one lane and summed in a fixed order: deterministic, no atomics. A row with every score −∞ gives
// zeros (log Σ = +∞).
// ---------------------------------------------------------------------------------------------------------

#define FT_ATTN_TILE 32

struct AttentionStrides
{
    long long batch, row, head;
};

// Mirrors src/Kernels/AttentionShape.cs field by field.
struct AttentionShape
{
    int batch, heads, tq, tk, d, mask_stride;
    float scale;
    int pad;
    AttentionStrides q, k, v, go;
};

__device__ __forceinline__ long long attn_at(const AttentionStrides& s, long long b, long long t, long long h)
{
    return b * s.batch + t * s.row + h * s.head;
}

// Offset of row (b, t, h) of a packed [B, T, H, d] tensor.
__device__ __forceinline__ long long attn_packed(const AttentionShape& s, int length, long long b, long long t, long long h)
{
    return ((b * length + t) * s.heads + h) * s.d;
}

__device__ __forceinline__ float attn_dot(const float* a, const float* b, int d)
{
    float sum = 0.0f;
    for (int c = 0; c < d; c++) sum = fmaf(a[c], b[c], sum);
    return sum;
}

// z = scale·s + mask (fused multiply-add, as the CPU's masked softmax).
__device__ __forceinline__ float attn_logit(const AttentionShape& s, const float* mask, int b, int j, float dot)
{
    return mask ? fmaf(dot, s.scale, mask[(long long)b * s.mask_stride + j]) : dot * s.scale;
}

__device__ __forceinline__ float attn_keep(unsigned long long seed, unsigned long long offset, long long e, float p, float keep)
{
    if (p <= 0.0f) return 1.0f;
    uint4 r = philox4x32_10(seed, offset + (unsigned long long)(e >> 2));
    unsigned int lanes[4] = { r.x, r.y, r.z, r.w };
    return philox_unit(lanes[e & 3]) >= p ? keep : 0.0f;
}

// Blocks walk the (batch·head, tile of FT_ATTN_TILE rows) pairs; body(b, h, row) runs for each lane that has a row.
template <typename Body>
__device__ __forceinline__ void attn_each_row(const AttentionShape& s, int length, Body body)
{
    long long row_tiles = (length + FT_ATTN_TILE - 1) / FT_ATTN_TILE;
    long long tiles = (long long)s.batch * s.heads * row_tiles;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x)
    {
        long long bh = tile / row_tiles;
        int row = (int)(tile % row_tiles) * FT_ATTN_TILE + threadIdx.x;
        if (row < length) body((int)(bh / s.heads), (int)(bh % s.heads), row);
    }
}

extern "C" __global__ void attention_forward_f32(AttentionShape s, const float* q, const float* k, const float* v, const float* mask,
                                                 float* o, float* stats, unsigned long long seed, unsigned long long offset, float p,
                                                 float keep)
{
    attn_each_row(s, s.tq, [&](int b, int h, int i) {
        const float* qi = q + attn_at(s.q, b, i, h);
        float* oi = o + attn_packed(s, s.tq, b, i, h);
        for (int c = 0; c < s.d; c++) oi[c] = 0.0f;
        float m = -INFINITY, l = 0.0f;
        long long drop0 = (((long long)b * s.heads + h) * s.tq + i) * s.tk;
        for (int j0 = 0; j0 < s.tk; j0 += FT_ATTN_TILE)
        {
            int nk = s.tk - j0 < FT_ATTN_TILE ? s.tk - j0 : FT_ATTN_TILE;
            float z[FT_ATTN_TILE];
            float tile_max = -INFINITY;
            for (int jj = 0; jj < nk; jj++)
            {
                z[jj] = attn_logit(s, mask, b, j0 + jj, attn_dot(qi, k + attn_at(s.k, b, j0 + jj, h), s.d));
                tile_max = fmaxf(tile_max, z[jj]);
            }
            float m_new = fmaxf(m, tile_max);
            // Nothing finite yet: shift 0, so exp(−∞) = 0 rather than exp(−∞ + ∞) = NaN.
            float shift = m_new == -INFINITY ? 0.0f : m_new;
            float alpha = m == -INFINITY ? 0.0f : expf(m - shift);
            float sum = 0.0f;
            for (int jj = 0; jj < nk; jj++)
            {
                z[jj] = expf(z[jj] - shift);
                sum += z[jj];
                z[jj] *= attn_keep(seed, offset, drop0 + j0 + jj, p, keep);
            }
            l = l * alpha + sum;
            m = m_new;
            for (int c = 0; c < s.d; c++)
            {
                float acc = oi[c] * alpha;
                for (int jj = 0; jj < nk; jj++) acc = fmaf(z[jj], v[attn_at(s.v, b, j0 + jj, h) + c], acc);
                oi[c] = acc;
            }
        }
        float* st = stats + 2 * (((long long)b * s.heads + h) * s.tq + i);
        if (l > 0.0f)
        {
            float inv = 1.0f / l;
            for (int c = 0; c < s.d; c++) oi[c] *= inv;
            st[0] = m;
            st[1] = logf(l);
        }
        else
        {
            for (int c = 0; c < s.d; c++) oi[c] = 0.0f;
            st[0] = 0.0f;
            st[1] = INFINITY;
        }
    });
}

// P∘Z and scale·dS of one (query, key) pair: p·keep and scale·p·(keep·dO_i·V_j − D_i).
__device__ __forceinline__ void attn_pair(const AttentionShape& s, const float* goi, const float* vj, float z, const float* st, float di,
                                          float keep, float* pd, float* ds)
{
    float pr = expf((z - st[0]) - st[1]);
    *pd = pr * keep;
    *ds = s.scale * (pr * (keep * attn_dot(goi, vj, s.d) - di));
}

// One lane per query row: D_i = dO_i·O_i (kept for the dK/dV kernel) and dQ_i = Σⱼ scale·dS_ij·K_j.
extern "C" __global__ void attention_backward_dq_f32(AttentionShape s, const float* q, const float* k, const float* v, const float* mask,
                                                     const float* o, const float* stats, const float* go, float* row_dot, float* dq,
                                                     unsigned long long seed, unsigned long long offset, float p, float keep)
{
    attn_each_row(s, s.tq, [&](int b, int h, int i) {
        long long row = ((long long)b * s.heads + h) * s.tq + i;
        const float* qi = q + attn_at(s.q, b, i, h);
        const float* goi = go + attn_at(s.go, b, i, h);
        float di = attn_dot(goi, o + attn_packed(s, s.tq, b, i, h), s.d);
        row_dot[row] = di;
        float* dqi = dq + attn_packed(s, s.tq, b, i, h);
        for (int c = 0; c < s.d; c++) dqi[c] = 0.0f;
        for (int j = 0; j < s.tk; j++)
        {
            const float* kj = k + attn_at(s.k, b, j, h);
            float z = attn_logit(s, mask, b, j, attn_dot(qi, kj, s.d));
            float pd, ds;
            float drop = attn_keep(seed, offset, row * s.tk + j, p, keep);
            attn_pair(s, goi, v + attn_at(s.v, b, j, h), z, stats + 2 * row, di, drop, &pd, &ds);
            if (ds != 0.0f)
                for (int c = 0; c < s.d; c++) dqi[c] = fmaf(ds, kj[c], dqi[c]);
        }
    });
}

// One lane per key row: dV_j = Σᵢ (P∘Z)_ij·dO_i and dK_j = Σᵢ scale·dS_ij·Q_i; needs row_dot from attention_backward_dq_f32.
extern "C" __global__ void attention_backward_dkdv_f32(AttentionShape s, const float* q, const float* k, const float* v, const float* mask,
                                                       const float* stats, const float* go, const float* row_dot, float* dk, float* dv,
                                                       unsigned long long seed, unsigned long long offset, float p, float keep)
{
    attn_each_row(s, s.tk, [&](int b, int h, int j) {
        const float* kj = k + attn_at(s.k, b, j, h);
        const float* vj = v + attn_at(s.v, b, j, h);
        float* dkj = dk + attn_packed(s, s.tk, b, j, h);
        float* dvj = dv + attn_packed(s, s.tk, b, j, h);
        for (int c = 0; c < s.d; c++) dkj[c] = dvj[c] = 0.0f;
        for (int i = 0; i < s.tq; i++)
        {
            long long row = ((long long)b * s.heads + h) * s.tq + i;
            const float* qi = q + attn_at(s.q, b, i, h);
            const float* goi = go + attn_at(s.go, b, i, h);
            float z = attn_logit(s, mask, b, j, attn_dot(qi, kj, s.d));
            float pd, ds;
            attn_pair(s, goi, vj, z, stats + 2 * row, row_dot[row], attn_keep(seed, offset, row * s.tk + j, p, keep), &pd, &ds);
            if (pd != 0.0f)
                for (int c = 0; c < s.d; c++) dvj[c] = fmaf(pd, goi[c], dvj[c]);
            if (ds != 0.0f)
                for (int c = 0; c < s.d; c++) dkj[c] = fmaf(ds, qi[c], dkj[c]);
        }
    });
}
