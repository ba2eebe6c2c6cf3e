// The host device's kernel runtime: runs the kernels of kernels.cu on the CPU. Each CUDA thread of a block
// is a cooperative fiber with its own stack; __syncthreads and warp shuffles yield to a scheduler that
// releases a barrier once every live thread of the block (or warp) has reached it. Fibers run only native
// code: the managed caller enters ft_host_launch on its own stack and gets control back when the grid is done.
// Built by tools/build-host-kernels.sh together with the generated launcher table (one launcher per kernel).
// Blocks of large grids run concurrently on a small pool of threads, so atomics and per-block __shared__ are
// exercised for real.

#include "kernels.cu"

#include <sys/mman.h>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if !defined(__x86_64__)
#error "the host device's fiber switch is written for x86-64"
#endif

// Saves callee-saved registers, MXCSR and the x87 control word on the current stack, stores the stack
// pointer to *save, loads target and restores the same set from it.
extern "C" void ft_switch(void** save, void* target);
extern "C" void ft_fiber_trampoline();
asm(R"(
    .text
    .globl ft_switch
    .type ft_switch,@function
ft_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ft_switch, .-ft_switch

    .globl ft_fiber_trampoline
    .type ft_fiber_trampoline,@function
ft_fiber_trampoline:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size ft_fiber_trampoline, .-ft_fiber_trampoline
)");

namespace fthost
{
    enum LaneState { Ready, Running, AtWarp, AtBlock, Done };

    struct Lane
    {
        void* sp;
        int state;
        uint3 tid;
        unsigned int lane, warp;
        unsigned int shuffles;
    };

    typedef void (*Invoker)(void** args);

    // Per OS thread: the fibers of the block being run and their stacks (allocated once, reused).
    struct Runner
    {
        void* scheduler_sp = nullptr;
        std::vector<Lane> lanes;
        char* stacks = nullptr;
        unsigned int threads = 0;
        Invoker invoke = nullptr;
        void** args = nullptr;
        unsigned int exchange[2][32][32];
    };

    thread_local Lane* current_lane;
    thread_local uint3 block_idx;
    thread_local dim3 block_dim;
    thread_local dim3 grid_dim;
    thread_local Runner* runner;

    const size_t StackBytes = 64 * 1024;
    const unsigned int MaxThreads = 1024;

    const uint3& lane_thread_idx() { return current_lane->tid; }

    static void yield_as(int state)
    {
        Lane* me = current_lane;
        me->state = state;
        ft_switch(&me->sp, runner->scheduler_sp);
    }

    void sync_block() { yield_as(AtBlock); }

    unsigned int shuffle_xor(unsigned int bits, int lane_mask)
    {
        Lane* me = current_lane;
        Runner* r = runner;
        // Two buffers used in turn, so one barrier per shuffle suffices: a lane writes shuffle k+2's value only after
        // every live lane of its warp has reached shuffle k+1, so after all of them have read shuffle k's.
        unsigned int (*exchange)[32] = r->exchange[me->shuffles++ & 1];
        exchange[me->warp][me->lane] = bits;
        yield_as(AtWarp); // every lane of the warp has published
        unsigned int width = r->threads - me->warp * 32;
        unsigned int source = me->lane ^ (unsigned int)lane_mask;
        return source < (width < 32 ? width : 32) ? exchange[me->warp][source] : bits;
    }

    static void fiber_main(Lane* lane)
    {
        runner->invoke(runner->args);
        lane->state = Done;
        ft_switch(&lane->sp, runner->scheduler_sp);
        __builtin_unreachable();
    }

    static void* prepare_stack(char* stack, Lane* lane, unsigned int index)
    {
        // Stack tops 64 KiB apart would all fall in the same cache sets; a per-lane offset spreads the saved registers.
        uintptr_t top = ((uintptr_t)(stack + StackBytes - (index % 32) * 192)) & ~(uintptr_t)15;
        uint64_t* ret = (uint64_t*)(top - 24); // (ret + 8) is 16-aligned when the trampoline runs
        ret[0] = (uint64_t)&ft_fiber_trampoline;
        ret[-1] = 0;                      // rbp
        ret[-2] = 0;                      // rbx
        ret[-3] = (uint64_t)lane;         // r12: argument
        ret[-4] = (uint64_t)&fiber_main;  // r13: entry
        ret[-5] = 0;                      // r14
        ret[-6] = 0;                      // r15
        uint32_t* control = (uint32_t*)&ret[-7];
        control[0] = 0x1F80;              // MXCSR default: round to nearest, exceptions masked
        control[1] = 0x037F;              // x87 control word default
        return &ret[-7];
    }

    static Runner* thread_runner()
    {
        if (runner) return runner;
        Runner* r = new Runner();
        size_t bytes = StackBytes * MaxThreads;
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) { delete r; return nullptr; }
        r->stacks = (char*)p;
        // A guard page at the low end of each stack turns an overflow into a fault, not silent corruption.
        long page = sysconf(_SC_PAGESIZE);
        for (unsigned int i = 0; i < MaxThreads; i++) mprotect(r->stacks + i * StackBytes, page, PROT_NONE);
        r->lanes.resize(MaxThreads);
        runner = r;
        return r;
    }

    // Runs one block to completion; returns an empty string or what went wrong.
    static std::string run_block(Runner* r)
    {
        unsigned int n = r->threads, live = n;
        for (unsigned int i = 0; i < n; i++)
        {
            Lane& l = r->lanes[i];
            l.tid.x = i % block_dim.x;
            l.tid.y = (i / block_dim.x) % block_dim.y;
            l.tid.z = i / (block_dim.x * block_dim.y);
            l.lane = i & 31;
            l.warp = i >> 5;
            l.state = Ready;
            l.shuffles = 0;
            l.sp = prepare_stack(r->stacks + (size_t)i * StackBytes, &l, i);
        }
        unsigned int warps = (n + 31) / 32;
        while (live > 0)
        {
            for (unsigned int i = 0; i < n; i++)
            {
                Lane& l = r->lanes[i];
                if (l.state != Ready) continue;
                current_lane = &l;
                l.state = Running;
                ft_switch(&r->scheduler_sp, l.sp);
                if (l.state == Done) live--;
            }
            current_lane = nullptr;
            if (live == 0) break;
            bool released = false;
            for (unsigned int w = 0; w < warps; w++)
            {
                unsigned int at_warp = 0, at_block = 0, end = (w + 1) * 32 < n ? (w + 1) * 32 : n;
                for (unsigned int i = w * 32; i < end; i++)
                {
                    at_warp += r->lanes[i].state == AtWarp;
                    at_block += r->lanes[i].state == AtBlock;
                }
                if (at_warp > 0 && at_block > 0)
                    return "warp " + std::to_string(w) + " diverged: some lanes wait in a warp shuffle, others at __syncthreads";
                if (at_warp > 0)
                {
                    for (unsigned int i = w * 32; i < end; i++)
                        if (r->lanes[i].state == AtWarp) r->lanes[i].state = Ready;
                    released = true;
                }
            }
            if (released) continue;
            for (unsigned int i = 0; i < n; i++)
                if (r->lanes[i].state == AtBlock) r->lanes[i].state = Ready;
        }
        return std::string();
    }

    struct KernelEntry
    {
        const char* name;
        int params;
        Invoker invoke;
    };

    template <typename... A, size_t... I>
    static void unpack(void (*kernel)(A...), void** args, std::index_sequence<I...>)
    {
        kernel(*static_cast<A*>(args[I])...);
    }

    template <typename... A>
    static constexpr int param_count(void (*)(A...)) { return (int)sizeof...(A); }

#define FT_KERNEL(name) \
    { #name, param_count(&name), [](void** args) { unpack(&name, args, std::make_index_sequence<param_count(&name)>()); } },

    static const KernelEntry kernels[] = {
#include "host_launchers.inc"
    };

#undef FT_KERNEL

    // One launch: blocks are handed out in order from `next` to whoever runs the grid.
    struct GridJob
    {
        Invoker invoke;
        void** args;
        const char* name;
        dim3 grid, block;
        unsigned long long total;
        std::atomic<unsigned long long> next{ 0 };
        std::mutex error_lock;
        std::string error;
    };

    static void run_grid(GridJob* job)
    {
        Runner* r = thread_runner();
        if (!r)
        {
            std::lock_guard<std::mutex> g(job->error_lock);
            if (job->error.empty()) job->error = "could not map fiber stacks";
            job->next = job->total;
            return;
        }
        r->threads = job->block.x * job->block.y * job->block.z;
        r->invoke = job->invoke;
        r->args = job->args;
        grid_dim = job->grid;
        block_dim = job->block;
        for (unsigned long long b = job->next++; b < job->total; b = job->next++)
        {
            unsigned int x = (unsigned int)(b % job->grid.x);
            unsigned int y = (unsigned int)((b / job->grid.x) % job->grid.y);
            unsigned int z = (unsigned int)(b / ((unsigned long long)job->grid.x * job->grid.y));
            block_idx = uint3{ x, y, z };
            std::string error = run_block(r);
            if (!error.empty())
            {
                std::lock_guard<std::mutex> g(job->error_lock);
                if (job->error.empty())
                    job->error = std::string(job->name) + ": block (" + std::to_string(x) + ", " + std::to_string(y) + ", "
                        + std::to_string(z) + "): " + error;
                job->next = job->total;
            }
        }
    }

    // Worker threads that run blocks of large grids next to the launching thread, like SMs. Created once and
    // never destroyed (joinable threads in a static object would terminate the process at exit).
    class BlockPool
    {
    public:
        explicit BlockPool(unsigned int workers)
        {
            for (unsigned int i = 0; i < workers; i++) std::thread([this] { work(); }).detach();
            count_ = workers;
        }

        void run(GridJob* job)
        {
            std::lock_guard<std::mutex> one_launch(launch_);
            {
                std::lock_guard<std::mutex> g(lock_);
                job_ = job;
                busy_ = count_;
                generation_++;
            }
            wake_.notify_all();
            run_grid(job);
            std::unique_lock<std::mutex> g(lock_);
            done_.wait(g, [this] { return busy_ == 0; });
            job_ = nullptr;
        }

    private:
        void work()
        {
            unsigned long long seen = 0;
            for (;;)
            {
                GridJob* job;
                {
                    std::unique_lock<std::mutex> g(lock_);
                    wake_.wait(g, [&] { return generation_ != seen; });
                    seen = generation_;
                    job = job_;
                }
                run_grid(job);
                std::lock_guard<std::mutex> g(lock_);
                if (--busy_ == 0) done_.notify_all();
            }
        }

        std::mutex launch_, lock_;
        std::condition_variable wake_, done_;
        GridJob* job_ = nullptr;
        unsigned long long generation_ = 0;
        unsigned int busy_ = 0, count_ = 0;
    };

    // Grids with fewer blocks or threads than this run on the calling thread: waking workers costs more.
    const unsigned long long ParallelBlocks = 4, ParallelThreads = 8192;

    static BlockPool* block_pool()
    {
        static BlockPool* pool = [] {
            unsigned int cores = std::thread::hardware_concurrency();
            unsigned int workers = cores > 8 ? 7 : cores - 1;
            // FINETUNE_HOST_WORKERS=N overrides the pool size (0: every block on the launching thread).
            if (const char* env = std::getenv("FINETUNE_HOST_WORKERS")) workers = (unsigned int)std::strtoul(env, nullptr, 10);
            return workers > 0 ? new BlockPool(workers) : nullptr;
        }();
        return pool;
    }

    thread_local std::string last_error;

    // CUresult codes, so the managed side names them like the real driver's.
    const int Success = 0, InvalidValue = 1, NotFound = 500, LaunchFailed = 719;
}

extern "C" {

int ft_host_kernel_count() { return (int)(sizeof(fthost::kernels) / sizeof(fthost::kernels[0])); }

const char* ft_host_kernel_name(int index) { return fthost::kernels[index].name; }

int ft_host_kernel_params(int index) { return fthost::kernels[index].params; }

const char* ft_host_last_error() { return fthost::last_error.c_str(); }

// Runs kernel `index` over the grid and returns when every block is done, like one in-order stream. Large grids
// spread their blocks over the pool's threads; each block stays on one thread from start to end.
int ft_host_launch(int index, unsigned int gx, unsigned int gy, unsigned int gz,
    unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared_bytes, void** args)
{
    using namespace fthost;
    last_error.clear();
    if (index < 0 || index >= ft_host_kernel_count())
    {
        last_error = "no kernel with index " + std::to_string(index);
        return NotFound;
    }
    unsigned long long threads = (unsigned long long)bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64
        || threads > MaxThreads || gy > 65535 || gz > 65535 || gx > 0x7fffffffu || shared_bytes > 48 * 1024)
    {
        last_error = "invalid launch configuration: grid (" + std::to_string(gx) + ", " + std::to_string(gy) + ", " + std::to_string(gz)
            + "), block (" + std::to_string(bx) + ", " + std::to_string(by) + ", " + std::to_string(bz) + "), "
            + std::to_string(shared_bytes) + " bytes of dynamic shared memory";
        return InvalidValue;
    }
    GridJob job;
    job.invoke = kernels[index].invoke;
    job.args = args;
    job.name = kernels[index].name;
    job.grid = dim3{ gx, gy, gz };
    job.block = dim3{ bx, by, bz };
    job.total = (unsigned long long)gx * gy * gz;
    BlockPool* pool = job.total >= ParallelBlocks && job.total * threads >= ParallelThreads ? block_pool() : nullptr;
    if (pool) pool->run(&job);
    else run_grid(&job);
    if (!job.error.empty())
    {
        last_error = job.error;
        return LaunchFailed;
    }
    return Success;
}

}
