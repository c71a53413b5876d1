using System.Collections.Concurrent;

namespace SmdSs.Tests.Simulation;

/// <summary>
/// What each key may hold: after an acknowledged write exactly its value (null: removed); a write
/// that threw may or may not have happened, so it adds its value to the possibilities. Each key
/// is written by one writer at a time. Every operation is kept for the failure message.
/// </summary>
internal sealed class WriteModel
{
    private readonly ConcurrentDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly System.Diagnostics.Stopwatch _clock;

    public WriteModel(System.Diagnostics.Stopwatch clock) => _clock = clock;

    public IEnumerable<string> Keys => _keys.Keys.Order(StringComparer.Ordinal);

    public void Acknowledged(string key, string? value, int node) => Update(key, node, value, acknowledged: true, "");

    public void Failed(string key, string? value, int node, Exception error) => Update(key, node, value, acknowledged: false, $" ({error.GetType().Name}: {First(error.Message)})");

    public void NoteRead(string key, int node, string? value, bool possible) =>
        _keys.GetOrAdd(key, _ => new KeyState()).Add($"{Now()} node {node} read {Show(value)}{(possible ? "" : " (not a possible value)")}");

    /// <summary>The values the key may hold now.</summary>
    public IReadOnlySet<string?> Possible(string key)
    {
        KeyState state = _keys.GetOrAdd(key, _ => new KeyState());
        lock (state)
        {
            return new HashSet<string?>(state.Possible);
        }
    }

    public string History(string key)
    {
        KeyState state = _keys.GetOrAdd(key, _ => new KeyState());
        lock (state)
        {
            return string.Join("\n", state.History);
        }
    }

    public static string Show(string? value) => value ?? "(none)";

    private void Update(string key, int node, string? value, bool acknowledged, string why)
    {
        KeyState state = _keys.GetOrAdd(key, _ => new KeyState());
        lock (state)
        {
            if (acknowledged)
            {
                state.Possible.Clear();
            }

            state.Possible.Add(value);
            state.History.Add($"{Now()} node {node} {(value is null ? "remove" : "set " + value)}: {(acknowledged ? "acknowledged" : "failed" + why)}");
        }
    }

    private string Now() => $"+{_clock.ElapsedMilliseconds}ms";

    private static string First(string message) => message.Length > 160 ? message[..160] + "…" : message;

    private sealed class KeyState
    {
        public HashSet<string?> Possible { get; } = [null];

        public List<string> History { get; } = [];

        public void Add(string line)
        {
            lock (this)
            {
                History.Add(line);
            }
        }
    }
}
