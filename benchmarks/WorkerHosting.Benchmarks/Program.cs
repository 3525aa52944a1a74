// Placeholder: the load and lifecycle benchmarks (plain Kestrel vs UseWorkers(1/2/4) vs gunicorn+uvicorn, with wrk)
// come with the performance issue. See benchmarks/README.md.
Console.WriteLine("No benchmarks yet: see benchmarks/README.md.");
