using System.Reflection;
using Microsoft.Extensions.Logging;
using WorkerHosting.Diagnostics;

namespace WorkerHosting.Tests.Diagnostics;

public class WorkersEventIdsTests
{
    private static readonly Assembly LibraryAssembly = typeof(WorkersEventIds).Assembly;

    [Fact]
    public void Constants_All_AreUnique()
    {
        var ids = EventIdConstants();

        Assert.NotEmpty(ids);
        var duplicates = ids.GroupBy(c => c.Value).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(c => c.Name))}");
        Assert.Empty(duplicates);
    }

    [Fact]
    public void Constants_All_ArePositive()
    {
        Assert.All(EventIdConstants(), c => Assert.True(c.Value > 0, $"{c.Name} is {c.Value}."));
    }

    [Fact]
    public void LoggerMessages_Assembly_AreFound()
    {
        var messages = LoggerMessages();

        // The coordinator, the workers and the listeners all log; each has a nested Log class.
        Assert.Contains(messages, m => m.Method.DeclaringType!.DeclaringType == typeof(WorkerHosting.Coordinator.WorkerCoordinator));
        Assert.Contains(messages, m => m.Method.DeclaringType!.DeclaringType == typeof(WorkerHosting.Workers.WorkerInstance));
        Assert.Contains(messages, m => m.Method.DeclaringType!.DeclaringType == typeof(WorkerHosting.Listeners.SharedListener));
        Assert.Contains(messages, m => m.Method.DeclaringType!.DeclaringType == typeof(WorkerHosting.Listeners.SharedEndpoints));
    }

    [Fact]
    public void LoggerMessages_EveryEventId_IsAWorkersEventIdsValue()
    {
        var known = EventIdConstants().Select(c => c.Value).ToHashSet();

        Assert.All(LoggerMessages(), m => Assert.True(known.Contains(m.Attribute.EventId), $"{Describe(m)} logs with event id {m.Attribute.EventId}, which WorkersEventIds does not define."));
    }

    [Fact]
    public void LoggerMessages_EventIds_AreUniqueAcrossMethods()
    {
        var duplicates = LoggerMessages()
            .GroupBy(m => m.Attribute.EventId)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(Describe))}");

        Assert.Empty(duplicates);
    }

    [Fact]
    public void LoggerMessages_EventNames_AreSetAndUnique()
    {
        var messages = LoggerMessages();

        Assert.All(messages, m => Assert.False(string.IsNullOrEmpty(m.Attribute.EventName), $"{Describe(m)} has no EventName."));
        var duplicates = messages
            .GroupBy(m => m.Attribute.EventName, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(Describe))}");
        Assert.Empty(duplicates);
    }

    [Fact]
    public void LoggerMessages_EventNames_MatchWorkersEventIdsConstantNames()
    {
        var names = EventIdConstants().ToDictionary(c => c.Value, c => c.Name);

        Assert.All(LoggerMessages(), m => Assert.Equal(names[m.Attribute.EventId], m.Attribute.EventName));
    }

    [Fact]
    public void LoggerMessages_EveryMessage_EndsWithPeriod()
    {
        Assert.All(LoggerMessages(), m => Assert.True(m.Attribute.Message.EndsWith('.'), $"{Describe(m)}: \"{m.Attribute.Message}\" does not end with a period."));
    }

    private static List<(string Name, int Value)> EventIdConstants()
        => [.. typeof(WorkersEventIds)
            .GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .Select(f => (f.Name, (int)f.GetRawConstantValue()!))];

    private static List<(MethodInfo Method, LoggerMessageAttribute Attribute)> LoggerMessages()
    {
        var messages = LibraryAssembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .Select(m => (m.Method, m.Attribute!))
            .ToList();

        Assert.NotEmpty(messages);
        return messages;
    }

    private static string Describe((MethodInfo Method, LoggerMessageAttribute Attribute) message)
        => $"{message.Method.DeclaringType?.FullName}.{message.Method.Name}";
}
