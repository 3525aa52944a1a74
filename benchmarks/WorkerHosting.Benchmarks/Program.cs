using BenchmarkDotNet.Running;
using WorkerHosting.Benchmarks;

// In-process lifecycle benchmarks (worker boot, drain and stop, one-worker reload). The load benchmark and the
// process-level lifecycle benchmark are benchmarks/run.sh; see benchmarks/README.md.
BenchmarkSwitcher.FromAssembly(typeof(WorkerLifecycleBenchmarks).Assembly).Run(args);
