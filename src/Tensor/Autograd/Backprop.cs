using Finetune.Kernels;

namespace Finetune.Autograd;

/// <summary>The reverse walk: topological order from the root, one backward call per node, sums per tensor.</summary>
internal static class Backprop
{
    public static void Run(Tensor root, Tensor seed, bool retainGraph)
    {
        var order = TopologicalOrder(root);
        long walkStart = DeviceBuffer.NextId;
        var adopted = new HashSet<DeviceBuffer>();
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = seed };
        var stored = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { seed };
        using var noGrad = GradMode.NoGrad();
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            if (!grads.Remove(t, out var g)) continue;
            stored.Remove(g);
            var node = t.GradFn;
            if (t.IsDisposed)
                throw new InvalidOperationException(
                    $"backward: {(node is null ? "leaf" : "the output of '" + node.Op + "'")} {t.Describe()} was already freed (its "
                        + "TensorScope ended or it was disposed); run Backward() inside the scope of the forward pass");
            if (node is null)
            {
                AccumulateLeaf(t, g, walkStart, adopted);
                continue;
            }
            var fn = node.BackwardFn ?? throw new InvalidOperationException(
                $"backward: the graph through '{node.Op}' (inputs {node.InputShapes}) was already freed by an earlier Backward(); " +
                "pass retainGraph: true to the first call to backward twice");
            foreach (var s in node.Saved)
                if (s.IsDisposed)
                    throw new InvalidOperationException(
                        $"backward: '{node.Op}' (inputs {node.InputShapes}) needs a tensor that was already freed (its TensorScope ended); "
                            + "run Backward() inside the scope of the forward pass");
            Tensor?[] inputGrads;
            using (Kernels.Profiling.KernelProfiler.ModuleScope(node.Scope)) inputGrads = fn(g);
            if (!retainGraph) node.Free();
            for (int k = 0; k < node.Inputs.Length; k++)
            {
                var x = node.Inputs[k];
                var gx = inputGrads[k];
                if (gx is null || !x.RequiresGrad) continue;
                if (!gx.ShapeEquals(x))
                    throw new InvalidOperationException($"internal: backward of '{node.Op}' returned gradient {gx.Describe()} for input "
                        + $"{k} of shape {x.Describe()}");
                if (AnomalyMode.IsEnabled) AnomalyMode.Check(node.Op, "backward", gx, node.InputShapes);
                // Each stored gradient is its own object, so it can be freed as soon as it is consumed.
                if (ReferenceEquals(gx, g) || stored.Contains(gx)) gx = gx.Alias();
                if (grads.TryGetValue(x, out var prev))
                {
                    stored.Remove(prev);
                    gx = SumAndFree(prev, gx);
                }
                grads[x] = gx;
                stored.Add(gx);
            }
            g.Dispose();
        }
    }

    private static Tensor SumAndFree(Tensor a, Tensor b)
    {
        var sum = a + b;
        a.Dispose();
        b.Dispose();
        return sum;
    }

    private static void AccumulateLeaf(Tensor leaf, Tensor g, long walkStart, HashSet<DeviceBuffer> adopted)
    {
        if (!leaf.RequiresGrad) return;
        if (leaf.Grad is null)
        {
            // Adopt a gradient buffer this walk allocated (only dead temporaries can share it) unless another
            // leaf already took it; memory from outside the walk (a seed, an activation) is copied.
            bool owned = g.IsContiguous && g.Offset == 0 && g.Count * g.DType.SizeOf() == g.Buffer.Bytes &&
                         g.Buffer.Id >= walkStart && adopted.Add(g.Buffer);
            var grad = owned ? g : g.ContiguousCopy();
            if (!ReferenceEquals(grad, g)) g.Dispose();
            grad.Kept = true;
            leaf.Grad = grad;
        }
        else
        {
            leaf.Grad.AddInPlace(g);
            g.Dispose();
        }
    }

    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor t, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.GradFn?.Inputs ?? Array.Empty<Tensor>();
            if (next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var x = inputs[next];
                if (x.RequiresGrad && visited.Add(x)) stack.Push((x, 0));
            }
            else
            {
                order.Add(t);
            }
        }
        return order;
    }
}
