using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using WorkerHosting.FunctionalTests.Infrastructure;

namespace WorkerHosting.FunctionalTests;

/// <summary>
/// The app's usual ways to say where it listens keep working: Kestrel resolves them in the coordinator and in
/// every worker, and the workers serve on the coordinator's sockets.
/// </summary>
public sealed class EndpointConfigurationTests
{
    [Fact]
    public async Task AspNetCoreUrlsEnvironmentVariable()
    {
        await using var app = AppProcess.Start(TestApps.Minimal, environment: new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = "http://127.0.0.1:0" });

        await AssertServedByEveryWorkerAsync(app, await app.WaitForAddressAsync());
    }

    [Fact]
    public async Task KestrelEndpointsFromConfiguration()
    {
        await using var app = AppProcess.Start(TestApps.Minimal, environment: new Dictionary<string, string?>
        {
            ["Kestrel__Endpoints__Main__Url"] = "http://127.0.0.1:0",
        });

        await AssertServedByEveryWorkerAsync(app, await app.WaitForAddressAsync());
    }

    [Fact]
    public async Task SeveralEndpointsWithPortZeroEachGetTheirOwnResolvedPort()
    {
        await using var app = AppProcess.Start(TestApps.Minimal, ["--urls", "http://127.0.0.1:0;http://127.0.0.1:0"]);

        await app.WaitForOutputAsync(@"\d+ of \d+ workers are ready");
        var addresses = app.Output.Split('\n')
            .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"Now listening on: (?<address>\S+)"))
            .Where(m => m.Success)
            .Select(m => new Uri(m.Groups["address"].Value))
            .ToArray();

        Assert.Equal(2, addresses.Length);
        Assert.NotEqual(addresses[0].Port, addresses[1].Port);
        foreach (var address in addresses)
        {
            await AssertServedByEveryWorkerAsync(app, address);
        }
    }

    [Fact]
    public async Task HttpsEndpointWithCertificateFromConfigurationTerminatesTlsInEachWorker()
    {
        using var certificate = CreateSelfSignedCertificate();
        using var certificateFile = TempFile.Create("certificate", ".pfx");
        await File.WriteAllBytesAsync(certificateFile.Path, certificate.Export(X509ContentType.Pfx, "secret"));
        await using var app = AppProcess.Start(TestApps.Minimal, environment: new Dictionary<string, string?>
        {
            ["Kestrel__Endpoints__Https__Url"] = "https://127.0.0.1:0",
            ["Kestrel__Endpoints__Https__Certificate__Path"] = certificateFile.Path,
            ["Kestrel__Endpoints__Https__Certificate__Password"] = "secret",
        });

        var address = await app.WaitForAddressAsync();
        Assert.Equal("https", address.Scheme);

        using var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString(),
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = address, DefaultRequestHeaders = { ConnectionClose = true } };

        var seen = new HashSet<int>();
        for (var i = 0; i < 10; i++)
        {
            seen.Add((await client.GetJsonAsync<WorkerInfo>("/")).Slot);
        }

        Assert.Equal([0, 1], seen.Order());
    }

    [Fact]
    public async Task Http2StreamsShareOneConnectionToAWorker()
    {
        var (app, address) = await AppProcess.StartListeningAsync(TestApps.Minimal, ["--Kestrel:EndpointDefaults:Protocols=Http2"]);
        await using var _ = app;
        using var client = new HttpClient
        {
            BaseAddress = address,
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        // Twenty concurrent streams on one cleartext HTTP/2 connection (prior knowledge), then twenty more.
        for (var round = 0; round < 2; round++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.GetAsync("/json"))).DefaultTimeout();
            foreach (var response in responses)
            {
                using (response)
                {
                    Assert.Equal(System.Net.HttpVersion.Version20, response.Version);
                    Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
                }
            }
        }
    }

    private static async Task AssertServedByEveryWorkerAsync(AppProcess app, Uri address)
    {
        await app.WaitForOutputAsync(@"\d+ of \d+ workers are ready");
        using var client = Http.NewConnectionPerRequest(address);
        var seen = new HashSet<int>();
        for (var i = 0; i < 10; i++)
        {
            seen.Add((await client.GetJsonAsync<WorkerInfo>("/")).Slot);
        }

        Assert.Equal([0, 1], seen.Order());
    }

    private static X509Certificate2 CreateSelfSignedCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }
}
