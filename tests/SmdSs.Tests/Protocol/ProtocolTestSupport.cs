using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SmdSs.Model;
using SmdSs.Protocol;
using SmdSs.Tests.Support;
using SmdSs.Transport;

namespace SmdSs.Tests.Protocol;

/// <summary>
/// A started node on a temp directory whose log is collected, so that a test can wait for the
/// reason a connection was closed (event 300, "Connection from … closed: …").
/// </summary>
internal sealed class LoggedNode : IAsyncDisposable
{
    /// <summary>A random key in base64 (a passphrase would be stretched with PBKDF2 at every node start).</summary>
    public const string Secret = "cHJvdG9jb2wtdGVzdHMtY2x1c3Rlci1zZWNyZXQtMzI=";
    private const int ConnectionRefusedEventId = 300;

    private readonly TempDirectory _directory;
    private readonly ILoggerFactory _loggerFactory;

    private LoggedNode(SmdSsNode node, FakeLogCollector logs, TempDirectory directory, ILoggerFactory loggerFactory)
    {
        Node = node;
        Logs = logs;
        _directory = directory;
        _loggerFactory = loggerFactory;
    }

    public SmdSsNode Node { get; }

    public FakeLogCollector Logs { get; }

    public string Endpoint => Node.Endpoint!;

    public IPEndPoint IpEndpoint => IPEndPoint.Parse(Endpoint);

    /// <summary>
    /// Starts a node. By default on a fake clock (as <see cref="TestNodes"/> does: no background
    /// round ever runs, so nothing but the test talks to it) and with <see cref="Secret"/>.
    /// The node's data lives in <paramref name="directory"/> (deleted with the node), or in a new temp directory.
    /// </summary>
    public static async Task<LoggedNode> StartAsync(Action<SmdSsOptions>? configure = null, TimeProvider? time = null, TempDirectory? directory = null)
    {
        bool ownsDirectory = directory is null;
        directory ??= new TempDirectory();
        var options = new SmdSsOptions
        {
            DataDirectory = directory.Sub("node"),
            FsyncPolicy = FsyncPolicy.Always,
            Listen = "127.0.0.1:0",
            ClusterSecret = Secret,
        };
        configure?.Invoke(options);
        var logs = new FakeLogCollector();
        ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
        var node = new SmdSsNode(
            Options.Create(options),
            time ?? new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture)),
            loggerFactory);
        try
        {
            await node.StartAsync();
        }
        catch
        {
            loggerFactory.Dispose();
            if (ownsDirectory)
            {
                directory.Dispose();
            }

            throw;
        }

        return new LoggedNode(node, logs, directory, loggerFactory);
    }

    /// <summary>The reasons logged for closed connections so far.</summary>
    public IReadOnlyList<string> RefusalReasons =>
        [.. Logs.GetSnapshot().Where(r => r.Id.Id == ConnectionRefusedEventId).Select(r => r.Message)];

    public Task WaitForRefusalAsync(string reasonContains, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(
            () => RefusalReasons.Any(r => r.Contains(reasonContains, StringComparison.Ordinal)),
            timeout ?? TimeSpan.FromSeconds(5),
            $"a connection closed with a logged reason containing '{reasonContains}' (logged so far: {string.Join(" | ", RefusalReasons)})");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Node.DisposeAsync();
        }
        finally
        {
            _loggerFactory.Dispose();
            _directory.Dispose();
        }
    }
}

/// <summary>Raw sockets and well-behaved peers, to poke a node from outside.</summary>
internal static class Wire
{
    public static readonly TimeSpan CloseDeadline = TimeSpan.FromSeconds(5);

    public static async Task<TcpClient> ConnectAsync(LoggedNode node)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(node.IpEndpoint);
        return client;
    }

    /// <summary>Writes bytes; the server may already have closed (it may stop reading at the first bad byte).</summary>
    public static async Task SendAsync(TcpClient client, byte[] bytes)
    {
        try
        {
            await client.GetStream().WriteAsync(bytes);
            await client.GetStream().FlushAsync();
        }
        catch (IOException)
        {
            // Reset by the server: it closed first, which is what the tests expect anyway.
        }
    }

    /// <summary>
    /// Reads until the server closes the connection (read returns 0, or a reset) and returns what
    /// came before the close; throws <see cref="TimeoutException"/> when it is still open at the deadline.
    /// </summary>
    public static async Task<byte[]> ReadUntilClosedAsync(TcpClient client, TimeSpan? deadline = null)
    {
        TimeSpan timeout = deadline ?? CloseDeadline;
        using var cts = new CancellationTokenSource(timeout);
        var received = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                // On the socket, not the stream: TcpClient refuses GetStream once this side shut down sending.
                int read = await client.Client.ReceiveAsync(received.GetMemory(4096), SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return received.WrittenSpan.ToArray();
                }

                received.Advance(read);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the server did not close the connection within {timeout} ({received.WrittenCount} bytes received)");
        }
        catch (SocketException)
        {
            // Reset by the server.
            return received.WrittenSpan.ToArray();
        }
    }

    /// <summary>Reads one whole frame (the handshake steps of a hand-made client).</summary>
    public static async Task<Frame?> ReadFrameAsync(TcpClient client, ArrayBufferWriter<byte> pending, FrameSealer? sealer = null, TimeSpan? deadline = null)
    {
        using var cts = new CancellationTokenSource(deadline ?? CloseDeadline);
        while (true)
        {
            var buffer = new ReadOnlySequence<byte>(pending.WrittenMemory);
            if (sealer is null ? FrameCodec.TryRead(ref buffer, 64 << 20, out Frame frame) : sealer.TryRead(ref buffer, 64 << 20, out frame))
            {
                byte[] rest = buffer.ToArray();
                pending.Clear();
                pending.Write(rest);
                return frame;
            }

            int read;
            try
            {
                read = await client.Client.ReceiveAsync(pending.GetMemory(4096), SocketFlags.None, cts.Token);
            }
            catch (SocketException)
            {
                return null;
            }

            if (read == 0)
            {
                return null;
            }

            pending.Advance(read);
        }
    }

    /// <summary>Every whole frame in <paramref name="bytes"/>.</summary>
    public static List<Frame> Frames(byte[] bytes)
    {
        var frames = new List<Frame>();
        var buffer = new ReadOnlySequence<byte>(bytes);
        while (FrameCodec.TryRead(ref buffer, 1 << 20, out Frame frame))
        {
            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>The server's last word before it closed: an Error frame with code Refused and the reason.</summary>
    public static ErrorReply SingleRefusal(byte[] received)
    {
        List<Frame> frames = Frames(received);
        Frame error = Assert.Single(frames);
        Assert.Equal(MessageType.Error, error.Type);
        ErrorReply reply = ErrorReply.Read(error.Payload);
        Assert.Equal(ErrorCode.Refused, reply.Code);
        return reply;
    }

    public static byte[] HelloPayload(NodeId id, string endpoint, byte[] nonce) => Handshake.HelloPayload(id, endpoint, nonce);

    /// <summary>
    /// Checks the node's challenge, which carries its id and nonce and nothing computed from the
    /// secret (the client has proved nothing yet), and returns the nonce.
    /// </summary>
    public static byte[] ReadChallenge(Frame challenge, LoggedNode node)
    {
        (NodeId server, byte[] serverNonce) = Handshake.ReadChallenge(challenge.Payload);
        Assert.Equal(node.Node.Self, server);
        return serverNonce;
    }

    public static NodeRecord RecordOf(NodeId id) => new(id, "127.0.0.1:1", NodeState.Up, 1L << 20, 0, 0);

    public static TcpPeerTransport Transport(NodeId id, string? secret) => new(id, () => "127.0.0.1:1", new Handshake(secret), 1 << 20);

    /// <summary>A ping over an authenticated connection, answered Ok with the node's own record.</summary>
    public static async Task PingAsync(IPeerTransport transport, NodeId from, LoggedNode node)
    {
        Frame reply = await transport.SendAsync(node.Endpoint, MessageType.Ping, Messages.EncodeNode(RecordOf(from)), TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(MessageType.Ok, reply.Type);
        Assert.Equal(node.Node.Self, Messages.DecodeNode(reply.Payload).Id);
    }

    /// <summary>
    /// The node still serves: a client with the right secret gets answers, on a fresh connection
    /// and on one opened before the bad input (when given), and Set/Get work.
    /// </summary>
    public static async Task AssertStillServesAsync(LoggedNode node, string? secret, (IPeerTransport Transport, NodeId Id)? earlier = null)
    {
        if (earlier is { } open)
        {
            await PingAsync(open.Transport, open.Id, node);
        }

        NodeId id = NodeId.NewRandom(Random.Shared);
        await using (TcpPeerTransport transport = Transport(id, secret))
        {
            for (int i = 0; i < 3; i++)
            {
                await PingAsync(transport, id, node);
            }
        }

        string key = "still-serving-" + Guid.NewGuid().ToString("N");
        byte[] value = [1, 2, 3, 42];
        await node.Node.SetAsync(key, value);
        Assert.Equal(value, await node.Node.GetAsync(key));
    }
}
