using WorkerHosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseWorkers(2);
var app = builder.Build();

#if BUILD2
const string Build = "build 2";
#else
const string Build = "build 1";
#endif

app.MapGet("/", (IWorkerContext worker) => $"{Build} worker {worker.Slot} generation {worker.Generation}");
app.Run();
