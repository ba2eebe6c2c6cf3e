using Finetune.Nn;

namespace Finetune.Peft;

/// <summary>A layer an adapter put around a base <see cref="Linear"/>; injections never wrap what it wraps again.</summary>
public interface IWrappingLayer
{
    Linear BaseLayer { get; }
}
