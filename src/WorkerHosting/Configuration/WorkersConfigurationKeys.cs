using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace WorkerHosting.Configuration;

/// <summary>
/// Finds the keys of the <c>Workers</c> section that no option has (a typo such as <c>Workers__GracefulTimout</c>),
/// which the configuration binder would otherwise ignore, and reports each by its full path with the keys the
/// section does have.
/// </summary>
/// <remarks>
/// It runs before the section is bound with <see cref="BinderOptions.ErrorOnUnknownConfiguration"/>: the binder would
/// throw too, but its message names the options type and the key without its section, and stops at the first section
/// it finds one in. This check follows the binder's rules (property names, or <see cref="ConfigurationKeyNameAttribute"/>,
/// case-insensitive) and goes into the sections of WorkerHosting's own option types (<c>Workers:Restart</c>).
/// </remarks>
internal static class WorkersConfigurationKeys
{
    /// <summary>
    /// Throws an <see cref="OptionsValidationException"/> naming every key of <paramref name="section"/> that no option
    /// has, so that a host fails to start (ValidateOnStart) and a configuration reload is rejected, as for a bad value.
    /// </summary>
    public static void ThrowIfUnknown(IConfigurationSection section, string optionsName)
    {
        ArgumentNullException.ThrowIfNull(section);

        var errors = FindUnknown(section);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(optionsName, typeof(WorkersOptions), errors);
        }
    }

    /// <summary>One message for each key of <paramref name="section"/> that no option of <see cref="WorkersOptions"/> has.</summary>
    public static IReadOnlyList<string> FindUnknown(IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(section);

        var errors = new List<string>();
        Collect(section, typeof(WorkersOptions), errors);
        return errors;
    }

    private static void Collect(IConfigurationSection section, Type optionsType, List<string> errors)
    {
        var properties = optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        foreach (var child in section.GetChildren())
        {
            var property = Array.Find(properties, p => string.Equals(KeyOf(p), child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                var value = child.Value is null ? "" : $" (value '{child.Value}')";
                errors.Add(
                    $"'{child.Path}'{value} is not a WorkerHosting setting, so it would be ignored. Check its spelling (environment variables separate levels with '__'); the keys of '{section.Path}' are {string.Join(", ", properties.Select(KeyOf))}.");
            }
            else if (IsOwnOptionsType(property.PropertyType))
            {
                Collect(child, property.PropertyType, errors);
            }
        }
    }

    private static string KeyOf(PropertyInfo property)
        => property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;

    /// <summary>A sub-section such as <c>Restart</c>: an option type of this library, bound key by key.</summary>
    private static bool IsOwnOptionsType(Type type) => type.IsClass && type.Assembly == typeof(WorkersOptions).Assembly;
}
