BenchHost.Create(args).Run();
