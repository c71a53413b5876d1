using System.Globalization;
using System.Text;

namespace SmdSs.Benchmarks;

/// <summary>The results as one row per scenario and subject, rendered as aligned text or Markdown.</summary>
internal sealed class ResultTable
{
    private readonly string[] _header;
    private readonly bool[] _rightAligned = [false, false, true, false, true, true, true, true, true];
    private readonly List<(Scenario Scenario, string[] Cells)> _rows = [];

    public ResultTable(IReadOnlyList<ScenarioResult> results, IReadOnlyList<string> subjectOrder, string baseline)
    {
        _header = ["Op", "Value", "Threads", "Cache", "ops/s", "p50 µs", "p99 µs", $"vs {baseline}", "alloc B/op"];
        IEnumerable<ScenarioResult> ordered = results
            .OrderBy(r => r.Scenario.Operation)
            .ThenBy(r => r.Scenario.ValueBytes)
            .ThenBy(r => r.Scenario.Threads)
            .ThenBy(r => IndexOf(subjectOrder, r.Subject));
        foreach (ScenarioResult r in ordered)
        {
            ScenarioResult? reference = results.FirstOrDefault(b => b.Subject == baseline && b.Scenario == r.Scenario);
            string ratio = r.Subject == baseline ? "baseline"
                : reference is null ? "n/a"
                : Format($"{r.OperationsPerSecond / reference.OperationsPerSecond:0.00##}x");
            _rows.Add((r.Scenario,
            [
                r.Scenario.Operation.ToString(),
                r.Scenario.ValueSize,
                Format($"{r.Scenario.Threads}"),
                r.Subject,
                Format($"{r.OperationsPerSecond:N0}"),
                Micros(r.P50Microseconds),
                Micros(r.P99Microseconds),
                ratio,
                Format($"{r.AllocatedBytesPerOperation:N0}"),
            ]));
        }
    }

    public string ToText()
    {
        int[] widths = [.. _header.Select((h, c) => _rows.Select(r => r.Cells[c].Length).Append(h.Length).Max())];
        string rule = string.Join("-+-", widths.Select(w => new string('-', w)));
        var text = new StringBuilder().AppendLine(Line(_header, widths)).AppendLine(rule);
        for (int i = 0; i < _rows.Count; i++)
        {
            if (i > 0 && _rows[i].Scenario != _rows[i - 1].Scenario)
            {
                text.AppendLine(rule);
            }

            text.AppendLine(Line(_rows[i].Cells, widths));
        }

        return text.ToString();
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder()
            .AppendLine("| " + string.Join(" | ", _header) + " |")
            .AppendLine("|" + string.Join("|", _rightAligned.Select(right => right ? "---:" : "---")) + "|");
        foreach ((_, string[] cells) in _rows)
        {
            text.AppendLine("| " + string.Join(" | ", cells) + " |");
        }

        return text.ToString();
    }

    private string Line(string[] cells, int[] widths) =>
        string.Join(" | ", cells.Select((cell, c) => _rightAligned[c] ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd();

    // Three significant digits are plenty next to run-to-run noise.
    private static string Micros(double value) => double.IsNaN(value) ? "n/a"
        : value < 10 ? Format($"{value:0.00}")
        : value < 100 ? Format($"{value:0.0}")
        : Format($"{value:N0}");

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }

        return names.Count;
    }
}
