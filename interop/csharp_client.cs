// C# (System.Net.WebSockets.ClientWebSocket, as shipped with Mono) as a
// client of wsmachine's echo servers.
//
//   mcs -out:csharp_client.exe csharp_client.cs
//   mono csharp_client.exe client URL     runs the exchanges against URL; one line each
//   mono csharp_client.exe --version      prints the runtime's version
//
// Each exchange prints `ok NAME` or `FAIL NAME: why` (see common.py) and is
// bounded in time.
using System;
using System.IO;
using System.Linq;
using System.Net.WebSockets;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

static class CsharpClient
{
    // "hello from C#, kosme" with Greek letters and an emoji, as escapes.
    const string Text = "hello from C#, \u03BA\u1F79\u03C3\u03BC\u03B5 \uD83C\uDF0D";
    const int BinarySize = 300 * 1024;
    const int CloseCode = 4001;
    const string CloseReason = "peer says bye";
    static readonly TimeSpan ExchangeTimeout = TimeSpan.FromSeconds(30);

    static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--version")
        {
            Console.WriteLine(RuntimeVersion());
            return 0;
        }
        if (args.Length != 2 || args[0] != "client")
        {
            Console.Error.WriteLine("usage: csharp_client.exe client URL | --version");
            return 2;
        }
        return Run(new Uri(args[1])).GetAwaiter().GetResult();
    }

    /// Mono's own version ("6.8.0.105 (Debian ...)"), else the CLR's.
    static string RuntimeVersion()
    {
        Type mono = Type.GetType("Mono.Runtime");
        MethodInfo name = mono == null ? null : mono.GetMethod("GetDisplayName", BindingFlags.NonPublic | BindingFlags.Static);
        return name == null ? Environment.Version.ToString() : (string)name.Invoke(null, null);
    }

    static void Report(string name, string error)
    {
        Console.WriteLine(error == null ? "ok " + name : "FAIL " + name + ": " + error);
        Console.Out.Flush();
    }

    static async Task<int> Run(Uri url)
    {
        var ws = new ClientWebSocket();
        using (var connect = new CancellationTokenSource(ExchangeTimeout))
        {
            await ws.ConnectAsync(url, connect.Token);
        }
        var exchanges = new Tuple<string, Func<CancellationToken, Task<string>>>[]
        {
            Tuple.Create<string, Func<CancellationToken, Task<string>>>("text", t => Echo(ws, Encoding.UTF8.GetBytes(Text), WebSocketMessageType.Text, t)),
            Tuple.Create<string, Func<CancellationToken, Task<string>>>("binary-300KiB", t => Echo(ws, Pattern(BinarySize), WebSocketMessageType.Binary, t)),
            Tuple.Create<string, Func<CancellationToken, Task<string>>>("close-with-reason", t => Close(ws, t)),
        };
        int failed = 0;
        foreach (var exchange in exchanges)
        {
            string error;
            using (var timeout = new CancellationTokenSource(ExchangeTimeout))
            {
                try
                {
                    error = await exchange.Item2(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    error = "timed out after " + ExchangeTimeout.TotalSeconds + " s";
                }
                catch (Exception e)
                {
                    error = e.GetType().Name + ": " + e.Message;
                }
            }
            Report(exchange.Item1, error);
            if (error != null)
            {
                failed++;
            }
        }
        return failed == 0 ? 0 : 1;
    }

    static byte[] Pattern(int n)
    {
        var bytes = new byte[n];
        for (int i = 0; i < n; i++)
        {
            bytes[i] = (byte)(i % 251);
        }
        return bytes;
    }

    /// Sends one message and checks that the same message comes back.
    static async Task<string> Echo(ClientWebSocket ws, byte[] data, WebSocketMessageType type, CancellationToken token)
    {
        await ws.SendAsync(new ArraySegment<byte>(data), type, true, token);
        var got = new MemoryStream();
        var buffer = new byte[64 * 1024];
        WebSocketReceiveResult result;
        do
        {
            result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return "the server closed instead of echoing (" + result.CloseStatus + ")";
            }
            if (result.MessageType != type)
            {
                return "the echo came back as " + result.MessageType;
            }
            got.Write(buffer, 0, result.Count);
        } while (!result.EndOfMessage);
        byte[] echo = got.ToArray();
        if (!echo.SequenceEqual(data))
        {
            return "the echo differs (" + echo.Length + " bytes, sent " + data.Length + ")";
        }
        return null;
    }

    /// Closes with a code and a reason; the server's Close must carry both back.
    static async Task<string> Close(ClientWebSocket ws, CancellationToken token)
    {
        await ws.CloseAsync((WebSocketCloseStatus)CloseCode, CloseReason, token);
        if (ws.State != WebSocketState.Closed)
        {
            return "state after the close handshake is " + ws.State;
        }
        int code = ws.CloseStatus.HasValue ? (int)ws.CloseStatus.Value : -1;
        if (code != CloseCode || ws.CloseStatusDescription != CloseReason)
        {
            return "the server answered " + code + " \"" + ws.CloseStatusDescription + "\", expected " + CloseCode + " \"" + CloseReason + "\"";
        }
        return null;
    }
}
