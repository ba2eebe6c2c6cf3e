using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>An elementwise function and its derivative, scalar and 8-wide, so one loop serves every op.</summary>
internal interface IUnaryFn
{
    static abstract float Apply(float x, float arg);
    static abstract Vector256<float> Apply(Vector256<float> x, Vector256<float> arg);

    /// <summary>gy·f'(x), given the forward output y.</summary>
    static abstract float Grad(float x, float y, float gy, float arg);
    static abstract Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> arg);
}

internal interface IBinaryFn
{
    static abstract float Apply(float a, float b);
    static abstract Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

/// <summary>Vector forms of the transcendental helpers the ops share.</summary>
internal static class VMath
{
    // Properties, not static readonly fields: a static field read inside a vector loop made the JIT keep a class-init check
    // there and spill every live vector around it (the exp ran at half speed).
    public static Vector256<float> One => Vector256<float>.One;
    public static Vector256<float> Half => Vector256.Create(0.5f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Vector256.FusedMultiplyAdd(a, b, c);

    // exp(x) = 2^n·exp(r): n = round(x·log2 e), r = x − n·ln 2 with ln 2 in two parts (Cody–Waite), exp(r) by Cephes' degree-7
    // polynomial on |r| ≤ ln 2 / 2 (max relative error 1.2e-7 over [−87, 88]); 2^n is applied as two powers so results
    // underflow gradually to the subnormals like expf. x is clamped to [−104, 89] first: below, the result rounds to 0;
    // above, the product overflows to +∞. The scalar form runs the same operations, so both give the same bits.
    private const float ExpLo = -104f, ExpHi = 89f, Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float E0 = 1.9875691500e-4f, E1 = 1.3981999507e-3f, E2 = 8.3334519073e-3f, E3 = 4.1665795894e-2f;
    private const float E4 = 1.6666665459e-1f, E5 = 5.0000001201e-1f;

    /// <summary>exp(x) in float32 arithmetic; ~1 ulp, NaN stays NaN, −∞ gives 0 and +∞ gives +∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(ExpLo)), Vector256.Create(ExpHi));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(E0), r, Vector256.Create(E1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + One);
        var k = Vector256.ConvertToInt32Native(n); // n is integral and within [−151, 129]: no saturation needed
        var k1 = Vector256.ShiftRightArithmetic(k, 1);
        var bias = Vector256.Create(127);
        var y = p * Vector256.ShiftLeft(k1 + bias, 23).AsSingle() * Vector256.ShiftLeft(k - k1 + bias, 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), y, x);
    }

    /// <summary>The scalar form of <see cref="Exp(Vector256{float})"/>: the same operations, the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        float xc = Math.Min(Math.Max(x, ExpLo), ExpHi);
        float n = MathF.Round(xc * Log2E);
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, xc);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);
        float p = MathF.FusedMultiplyAdd(E0, r, E1);
        p = MathF.FusedMultiplyAdd(p, r, E2);
        p = MathF.FusedMultiplyAdd(p, r, E3);
        p = MathF.FusedMultiplyAdd(p, r, E4);
        p = MathF.FusedMultiplyAdd(p, r, E5);
        p = MathF.FusedMultiplyAdd(p, r * r, r + 1f);
        int k = (int)n, k1 = k >> 1;
        return p * BitConverter.Int32BitsToSingle((k1 + 127) << 23) * BitConverter.Int32BitsToSingle((k - k1 + 127) << 23);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x) => Vector256.Log(x);

    /// <summary>tanh through exp of a non-positive argument, so it never overflows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var e = Exp(ax * Vector256.Create(-2f));
        var t = (One - e) / (One + e);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -t, t);
    }

    public static float Tanh(float x) => MathF.Tanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => One / (One + Exp(-x));

    public static float Sigmoid(float x) => 1f / (1f + Exp(-x));

    // erf by Abramowitz & Stegun 7.1.26 refined with the high-accuracy rational form of W. J. Cody is overkill
    // for float32; this polynomial has max abs error 1.2e-7, below float32 resolution near 1.
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    public static float Erf(float x)
    {
        float ax = MathF.Abs(x);
        float t = 1f / (1f + P * ax);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float r = 1f - poly * Exp(-ax * ax);
        return x < 0 ? -r : r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var t = One / Fma(Vector256.Create(P), ax, One);
        var poly = Fma(Vector256.Create(A5), t, Vector256.Create(A4));
        poly = Fma(poly, t, Vector256.Create(A3));
        poly = Fma(poly, t, Vector256.Create(A2));
        poly = Fma(poly, t, Vector256.Create(A1));
        poly *= t;
        var r = One - poly * Exp(-(ax * ax));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -r, r);
    }

    public const float InvSqrt2 = 0.70710678118654752f;
    public const float InvSqrt2Pi = 0.39894228040143268f;
    public const float Sqrt2OverPi = 0.79788456080286536f;
    public const float GeluCoef = 0.044715f;
}

internal struct NegFn : IUnaryFn
{
    public static float Apply(float x, float a) => -x;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => -x;
    public static float Grad(float x, float y, float gy, float a) => -gy;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) => -gy;
}

internal struct ExpFn : IUnaryFn
{
    public static float Apply(float x, float a) => VMath.Exp(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.Exp(x);
    public static float Grad(float x, float y, float gy, float a) => gy * y;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) => gy * y;
}

internal struct LogFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Log(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.Log(x);
    public static float Grad(float x, float y, float gy, float a) => gy / x;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) => gy / x;
}

internal struct SqrtFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Sqrt(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Sqrt(x);
    public static float Grad(float x, float y, float gy, float a) => gy * 0.5f / y;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        gy * VMath.Half / y;
}

internal struct RsqrtFn : IUnaryFn
{
    public static float Apply(float x, float a) => 1f / MathF.Sqrt(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.One / Vector256.Sqrt(x);
    public static float Grad(float x, float y, float gy, float a) => -0.5f * gy * y * y * y;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        Vector256.Create(-0.5f) * gy * y * y * y;
}

internal struct TanhFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Tanh(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.Tanh(x);
    public static float Grad(float x, float y, float gy, float a) => gy * (1f - y * y);
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        gy * (VMath.One - y * y);
}

internal struct ReluFn : IUnaryFn
{
    public static float Apply(float x, float a) => x > 0 ? x : 0f;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Max(x, Vector256<float>.Zero);
    public static float Grad(float x, float y, float gy, float a) => x > 0 ? gy : 0f;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), gy, Vector256<float>.Zero);
}

internal struct SigmoidFn : IUnaryFn
{
    public static float Apply(float x, float a) => VMath.Sigmoid(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.Sigmoid(x);
    public static float Grad(float x, float y, float gy, float a) => gy * y * (1f - y);
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        gy * y * (VMath.One - y);
}

internal struct GeluErfFn : IUnaryFn
{
    public static float Apply(float x, float a) => 0.5f * x * (1f + VMath.Erf(x * VMath.InvSqrt2));
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) =>
        VMath.Half * x * (VMath.One + VMath.Erf(x * Vector256.Create(VMath.InvSqrt2)));
    public static float Grad(float x, float y, float gy, float a) =>
        gy * (0.5f * (1f + VMath.Erf(x * VMath.InvSqrt2)) + x * VMath.InvSqrt2Pi * VMath.Exp(-0.5f * x * x));
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a)
    {
        var cdf = VMath.Half * (VMath.One + VMath.Erf(x * Vector256.Create(VMath.InvSqrt2)));
        var pdf = Vector256.Create(VMath.InvSqrt2Pi) * VMath.Exp(Vector256.Create(-0.5f) * x * x);
        return gy * VMath.Fma(x, pdf, cdf);
    }
}

internal struct GeluTanhFn : IUnaryFn
{
    public static float Apply(float x, float a) =>
        0.5f * x * (1f + MathF.Tanh(VMath.Sqrt2OverPi * (x + VMath.GeluCoef * x * x * x)));
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a)
    {
        var inner = Vector256.Create(VMath.Sqrt2OverPi) * VMath.Fma(Vector256.Create(VMath.GeluCoef) * x * x, x, x);
        return VMath.Half * x * (VMath.One + VMath.Tanh(inner));
    }
    public static float Grad(float x, float y, float gy, float a)
    {
        float t = MathF.Tanh(VMath.Sqrt2OverPi * (x + VMath.GeluCoef * x * x * x));
        float dInner = VMath.Sqrt2OverPi * (1f + 3f * VMath.GeluCoef * x * x);
        return gy * (0.5f * (1f + t) + 0.5f * x * (1f - t * t) * dInner);
    }
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a)
    {
        var x2 = x * x;
        var t = VMath.Tanh(Vector256.Create(VMath.Sqrt2OverPi) * VMath.Fma(Vector256.Create(VMath.GeluCoef) * x2, x, x));
        var dInner = Vector256.Create(VMath.Sqrt2OverPi) * VMath.Fma(Vector256.Create(3f * VMath.GeluCoef), x2, VMath.One);
        return gy * (VMath.Half * (VMath.One + t) + VMath.Half * x * (VMath.One - t * t) * dInner);
    }
}

internal struct ScaleFn : IUnaryFn
{
    public static float Apply(float x, float a) => x * a;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x * a;
    public static float Grad(float x, float y, float gy, float a) => gy * a;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) => gy * a;
}

internal struct PowFn : IUnaryFn
{
    public static float Apply(float x, float a) => a == 2f ? x * x : MathF.Pow(x, a);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) =>
        a.GetElement(0) == 2f ? x * x : VMath.Exp(a * VMath.Log(x));
    public static float Grad(float x, float y, float gy, float a) => gy * a * (a == 2f ? x : MathF.Pow(x, a - 1f));
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        a.GetElement(0) == 2f ? gy * a * x : gy * a * VMath.Exp((a - VMath.One) * VMath.Log(x));
}

internal struct AddScalarFn : IUnaryFn
{
    public static float Apply(float x, float a) => x + a;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x + a;
    public static float Grad(float x, float y, float gy, float a) => gy;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) => gy;
}

internal struct DropoutMaskFn : IUnaryFn
{
    public static float Apply(float u, float p) => u >= p ? 1f / (1f - p) : 0f;
    public static Vector256<float> Apply(Vector256<float> u, Vector256<float> p) =>
        Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(u, p), VMath.One / (VMath.One - p), Vector256<float>.Zero);
    public static float Grad(float x, float y, float gy, float a) => 0f;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        Vector256<float>.Zero;
}

internal struct AbsFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Abs(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Abs(x);
    public static float Grad(float x, float y, float gy, float a) => x > 0 ? gy : x < 0 ? -gy : 0f;
    public static Vector256<float> Grad(Vector256<float> x, Vector256<float> y, Vector256<float> gy, Vector256<float> a) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), gy,
            Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -gy, Vector256<float>.Zero));
}

internal struct AddFn : IBinaryFn
{
    public static float Apply(float a, float b) => a + b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a + b;
}

internal struct SubFn : IBinaryFn
{
    public static float Apply(float a, float b) => a - b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a - b;
}

internal struct MulFn : IBinaryFn
{
    public static float Apply(float a, float b) => a * b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
}

internal struct DivFn : IBinaryFn
{
    public static float Apply(float a, float b) => a / b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a / b;
}

internal struct EqFn : IBinaryFn
{
    public static float Apply(float a, float b) => a == b ? 1f : 0f;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) =>
        Vector256.ConditionalSelect(Vector256.Equals(a, b), VMath.One, Vector256<float>.Zero);
}

internal struct GtFn : IBinaryFn
{
    public static float Apply(float a, float b) => a > b ? 1f : 0f;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(a, b), VMath.One, Vector256<float>.Zero);
}
