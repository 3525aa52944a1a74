using Microsoft.AspNetCore.SignalR;
using WorkerHosting;

namespace RealWorldApp.Services;

public sealed record EchoReply(string Message, int Worker, int Generation);

public sealed class EchoHub(IWorkerContext worker) : Hub
{
    public EchoReply Echo(string message) => new(message, worker.Slot, worker.Generation);
}
