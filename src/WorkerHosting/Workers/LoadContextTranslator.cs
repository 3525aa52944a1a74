using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace WorkerHosting.Workers;

/// <summary>
/// Carries what a test registered in the coordinator (default load context) into one worker's load context: the same
/// types as the worker's code sees them, the same lambdas compiled into the worker's copy of the test assembly, and
/// copies of the objects they capture. A type of the shared framework (or of any assembly workers share) is the same
/// type in every context, and its objects are handed over as they are.
/// </summary>
/// <remarks>
/// Test assemblies (those that reference the app, and are not among the app's own dependencies) are loaded into the
/// worker's context from the same file, so that a fake defined in the test project implements the worker's copy of the
/// app's interface. Objects of the app's or the test's types are copied field by field (their constructors do not run
/// again); a test's object cannot be shared with a worker, only copied.
/// </remarks>
internal sealed class LoadContextTranslator(WorkerLoadContext target)
{
    private readonly Dictionary<object, object> _copies = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Assembly, Assembly> _assemblies = [];

    /// <summary>The worker's own version of <paramref name="type"/>.</summary>
    public Type Type(Type type)
    {
        if (type.IsArray)
        {
            var element = Type(type.GetElementType()!);
            return element == type.GetElementType() ? type : type.IsSZArray ? element.MakeArrayType() : element.MakeArrayType(type.GetArrayRank());
        }

        if (type.IsGenericParameter || type.IsByRef || type.IsPointer)
        {
            return type;
        }

        if (type.IsConstructedGenericType)
        {
            var definition = Type(type.GetGenericTypeDefinition());
            var arguments = type.GenericTypeArguments;
            var mapped = Array.ConvertAll(arguments, Type);
            return definition == type.GetGenericTypeDefinition() && mapped.SequenceEqual(arguments) ? type : definition.MakeGenericType(mapped);
        }

        var assembly = Assembly(type.Assembly);
        return assembly == type.Assembly
            ? type
            : assembly.GetType(type.FullName!, throwOnError: true)!;
    }

    /// <summary>The worker's own version of a value: the same object when its type is shared, otherwise a copy.</summary>
    public object? Value(object? value, string what)
    {
        switch (value)
        {
            case null:
                return null;
            case Delegate callback:
                return Delegate(callback, what);
            case Type carried:
                return Type(carried);
        }

        var type = value.GetType();
        var mapped = Type(type);
        if (mapped == type)
        {
            return value;
        }

        if (_copies.TryGetValue(value, out var existing))
        {
            return existing;
        }

        if (IsFactory(type))
        {
            throw new NotSupportedException(
                $"{what} captures the test's WebApplicationFactory ({type.Name}): a worker runs in its own load context and cannot use the test's objects. Capture values (strings, numbers) instead, or register types.");
        }

        if (value is Array array)
        {
            if (array.Rank != 1)
            {
                throw new NotSupportedException($"{what} holds a multi-dimensional array of {type.GetElementType()}, which cannot be copied into a worker.");
            }

            var copy = Array.CreateInstance(mapped.GetElementType()!, array.Length);
            _copies[value] = copy;
            for (var i = 0; i < array.Length; i++)
            {
                copy.SetValue(Value(array.GetValue(i), what), i);
            }

            return copy;
        }

        var instance = RuntimeHelpers.GetUninitializedObject(mapped);
        _copies[value] = instance;
        for (var (source, destination) = (type, mapped); source is not null && destination is not null; (source, destination) = (source.BaseType, destination.BaseType))
        {
            foreach (var field in source.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var counterpart = destination.GetField(field.Name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                    ?? throw new InvalidOperationException($"The worker's copy of {source} has no field '{field.Name}'.");
                counterpart.SetValue(instance, Value(field.GetValue(value), what));
            }
        }

        return instance;
    }

    /// <summary>The same callback, compiled into the worker's copy of its assembly, with a copy of what it captured.</summary>
    public Delegate Delegate(Delegate callback, string what)
    {
        var invocations = callback.GetInvocationList();
        if (invocations.Length > 1)
        {
            return System.Delegate.Combine(Array.ConvertAll(invocations, d => Delegate(d, what)))!;
        }

        var delegateType = Type(callback.GetType());
        var method = Method(callback.Method, what);
        var target = Value(callback.Target, what);
        if (delegateType == callback.GetType() && method == callback.Method && ReferenceEquals(target, callback.Target))
        {
            return callback;
        }

        return System.Delegate.CreateDelegate(delegateType, target, method);
    }

    /// <summary>Whether <paramref name="method"/> is the worker's counterpart of <paramref name="original"/>.</summary>
    public bool SameMethod(MethodInfo method, MethodInfo original)
        => method.MetadataToken == original.MetadataToken && method.DeclaringType is { } declaring && original.DeclaringType is { } originalDeclaring
            && declaring == Type(originalDeclaring);

    private MethodInfo Method(MethodInfo method, string what)
    {
        if (method.DeclaringType is not { } declaring)
        {
            throw new NotSupportedException($"{what} is a callback of a global or dynamic method ({method.Name}), which cannot be carried into a worker.");
        }

        var mappedDeclaring = Type(declaring);
        var genericArguments = method.IsGenericMethod ? method.GetGenericArguments() : [];
        var mappedArguments = Array.ConvertAll(genericArguments, Type);
        if (mappedDeclaring == declaring && mappedArguments.SequenceEqual(genericArguments))
        {
            return method;
        }

        var definition = method.IsGenericMethod ? method.GetGenericMethodDefinition() : method;
        var resolved = mappedDeclaring.Module.ResolveMethod(definition.MetadataToken) as MethodInfo
            ?? throw new InvalidOperationException($"The worker's copy of {declaring} has no method '{method.Name}'.");
        if (mappedDeclaring.IsConstructedGenericType)
        {
            resolved = (MethodInfo)MethodBase.GetMethodFromHandle(resolved.MethodHandle, mappedDeclaring.TypeHandle)!;
        }

        return method.IsGenericMethod ? resolved.MakeGenericMethod(mappedArguments) : resolved;
    }

    private Assembly Assembly(Assembly assembly)
    {
        if (assembly.IsDynamic || AssemblyLoadContext.GetLoadContext(assembly) != AssemblyLoadContext.Default)
        {
            return assembly;
        }

        if (!_assemblies.TryGetValue(assembly, out var mapped))
        {
            mapped = target.LoadCounterpart(assembly);
            _assemblies[assembly] = mapped;
        }

        return mapped;
    }

    private static bool IsFactory(Type type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && current.GetGenericTypeDefinition().FullName == "Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory`1")
            {
                return true;
            }
        }

        return false;
    }
}
