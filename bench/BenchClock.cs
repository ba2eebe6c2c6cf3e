using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Finetune.Bench;

/// <summary>
/// The benchmarks' clock: wall time, or with <see cref="CpuTime"/> this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which
/// ignores time spent descheduled on a busy shared machine; it measures single-threaded runs only.
/// </summary>
public static class BenchClock
{
    public static bool CpuTime { get; set; }

    /// <summary>Seconds now on the chosen clock.</summary>
    public static double Now()
    {
        if (!CpuTime) return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
        ClockGetTime(3, out var ts);
        return ts.Sec + ts.Nsec * 1e-9;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec ts);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Sec, Nsec;
    }
}
