# Generates the unrolled micro-kernels for GemmMicroKernel.cs
import sys
def kernel(name, vec, width, mr, nv, unroll):
    nr = width*nv
    V = vec
    L = []
    w = L.append
    w(f"    /// <summary>{mr}×{nr} tile: C[0..{mr}, 0..{nr}] = alpha·Σp a[p·{mr}+i]·b[p·{nr}+j] + beta·C; beta == 0 never reads C.</summary>")
    w(f"    [MethodImpl(MethodImplOptions.AggressiveOptimization)]")
    w(f"    public static void {name}(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)")
    w("    {")
    for i in range(mr):
        w("        " + " ".join(f"{V}<float> c{i}_{v} = default;" for v in range(nv)))
    w(f"        int p = 0;")
    def body(ind, u=0):
        for v in range(nv):
            w(f"{ind}{V}<float> b{v} = {V}.Load(b + {u*nr+v*width});")
        for i in range(mr):
            w(f"{ind}{{ var ai = {V}.Create(a[{u*mr+i}]); " + " ".join(f"c{i}_{v} = Fma.MultiplyAdd(ai, b{v}, c{i}_{v});" if V=="Vector256" else f"c{i}_{v} = Avx512F.FusedMultiplyAdd(ai, b{v}, c{i}_{v});" for v in range(nv)) + " }")
        if u == 0 and ind.startswith("            ") and len(ind)==12: w(f"{ind}a += {mr}; b += {nr};")
    if unroll > 1:
        w(f"        for (; p + {unroll} <= kc; p += {unroll})")
        w("        {")
        for u in range(unroll):
            w("            {")
            body("                ", u)
            w("            }")
        w(f"            a += {unroll*mr}; b += {unroll*nr};")
        w("        }")
    w(f"        for (; p < kc; p++)")
    w("        {")
    body("            ")
    w("        }")
    # epilogue
    w(f"        var va = {V}.Create(alpha);")
    w("        if (beta == 0f)")
    w("        {")
    for i in range(mr):
        w("            " + " ".join(f"{V}.Store(c{i}_{v} * va, c + {i} * ldc + {v*width});" for v in range(nv)))
    w("        }")
    w("        else if (beta == 1f)")
    w("        {")
    fma = "Fma.MultiplyAdd" if V=="Vector256" else "Avx512F.FusedMultiplyAdd"
    for i in range(mr):
        w("            " + " ".join(f"{{ float* r = c + {i} * ldc + {v*width}; {V}.Store({fma}(c{i}_{v}, va, {V}.Load(r)), r); }}" for v in range(nv)))
    w("        }")
    w("        else")
    w("        {")
    w(f"            var vb = {V}.Create(beta);")
    for i in range(mr):
        w("            " + " ".join(f"{{ float* r = c + {i} * ldc + {v*width}; {V}.Store({fma}(c{i}_{v}, va, {V}.Load(r) * vb), r); }}" for v in range(nv)))
    w("        }")
    w("    }")
    return "\n".join(L)

mr512, nv512, mr256, nv256, unr = map(int, sys.argv[1:6])
print(f"    public const int Avx512Mr = {mr512}, Avx512Nr = {16*nv512}, Avx2Mr = {mr256}, Avx2Nr = {8*nv256};")
print()
print(kernel(f"Avx512Kernel", "Vector512", 16, mr512, nv512, unr))
print()
print(kernel(f"Avx2Kernel", "Vector256", 8, mr256, nv256, unr))
