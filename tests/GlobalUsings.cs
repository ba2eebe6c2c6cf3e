global using NUnit.Framework;
global using Finetune.Kernels;
