using System.Reflection;
using System.Runtime.CompilerServices;
using WorkerHosting;
using WorkerHosting.Hosting;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Extension methods that run an app as workers: N isolated hosts of the app in one process, sharing its endpoints.
/// </summary>
public static class WorkersHostBuilderExtensions
{
    /// <summary>
    /// Runs the app as <paramref name="count"/> workers, unless configuration says otherwise.
    /// </summary>
    /// <typeparam name="TBuilder">The type of the builder.</typeparam>
    /// <param name="builder">The builder of the app's host, such as a <c>WebApplicationBuilder</c>.</param>
    /// <param name="count">How many workers serve the app. The <c>Workers:Count</c> configuration value, if set, overrides it.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <remarks>
    /// <para>
    /// When the app starts on Kestrel, the process's host becomes the coordinator: it binds the app's endpoints once and
    /// runs the app's entry point again in each worker, in its own collectible load context. The workers serve the
    /// requests and run the app's hosted services; the coordinator serves none. On stop (Ctrl+C, SIGTERM,
    /// <see cref="IHostApplicationLifetime.StopApplication"/>) the coordinator stops accepting, lets in-flight requests
    /// finish within <see cref="WorkersOptions.GracefulTimeout"/>, and aborts what is left.
    /// </para>
    /// <para>
    /// Under a server other than Kestrel (such as <c>WebApplicationFactory</c>'s test server) no worker starts and the
    /// app runs standalone, as it would without this call. <see cref="IWorkerContext"/> resolves in every mode.
    /// </para>
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static TBuilder UseWorkers<TBuilder>(this TBuilder builder, int count)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);

        WorkersSetup.Apply(builder.Properties, builder.Services, builder.Configuration, options => options.Count = count, Assembly.GetCallingAssembly());
        return builder;
    }

    /// <summary>
    /// Runs the app as workers, configured from the <c>Workers</c> configuration section.
    /// </summary>
    /// <typeparam name="TBuilder">The type of the builder.</typeparam>
    /// <param name="builder">The builder of the app's host, such as a <c>WebApplicationBuilder</c>.</param>
    /// <param name="configure">Sets defaults for the options; values in the <c>Workers</c> configuration section override them.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <remarks>See <see cref="UseWorkers{TBuilder}(TBuilder, int)"/>.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static TBuilder UseWorkers<TBuilder>(this TBuilder builder, Action<WorkersOptions>? configure = null)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        WorkersSetup.Apply(builder.Properties, builder.Services, builder.Configuration, configure, Assembly.GetCallingAssembly());
        return builder;
    }

    /// <summary>
    /// Runs the app as <paramref name="count"/> workers, unless configuration says otherwise.
    /// </summary>
    /// <param name="builder">The app's <see cref="IHostBuilder"/>.</param>
    /// <param name="count">How many workers serve the app. The <c>Workers:Count</c> configuration value, if set, overrides it.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <remarks>See <see cref="UseWorkers{TBuilder}(TBuilder, int)"/>.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IHostBuilder UseWorkers(this IHostBuilder builder, int count)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);

        WorkersSetup.Apply(builder, options => options.Count = count, Assembly.GetCallingAssembly());
        return builder;
    }

    /// <summary>
    /// Runs the app as workers, configured from the <c>Workers</c> configuration section.
    /// </summary>
    /// <param name="builder">The app's <see cref="IHostBuilder"/>.</param>
    /// <param name="configure">Sets defaults for the options; values in the <c>Workers</c> configuration section override them.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <remarks>See <see cref="UseWorkers{TBuilder}(TBuilder, int)"/>.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IHostBuilder UseWorkers(this IHostBuilder builder, Action<WorkersOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        WorkersSetup.Apply(builder, configure, Assembly.GetCallingAssembly());
        return builder;
    }
}
