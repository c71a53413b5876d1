namespace SmdSs.Benchmarks.Increments;

/// <summary>
/// The line protocol between the harness and a worker process, one reply line (stdout) per
/// command line (stdin), words separated by spaces:
/// <code>
/// (on start)                                              → READY endpoint|-   or ERROR text
/// STATUS                                                  → STATUS json|null   (SmdSsStatus, web JSON)
/// RESET prefix count                                      → OK                 (deletes prefix0..prefix{count-1})
/// RUN prefix count callers startAtUnixMs warmupMs measureMs → DONE ...        (WorkerTally, tab-separated)
/// SUM prefix count                                        → SUM n
/// QUIT                                                    → BYE                (after the store stopped; then exits)
/// </code>
/// A command that fails answers ERROR with the exception on one line.
/// </summary>
internal static class WorkerProtocol
{
    public const string Ready = "READY";
    public const string Status = "STATUS";
    public const string Reset = "RESET";
    public const string Run = "RUN";
    public const string Sum = "SUM";
    public const string Ok = "OK";
    public const string Done = "DONE";
    public const string Quit = "QUIT";
    public const string Bye = "BYE";
    public const string Error = "ERROR";

    public static IReadOnlyList<string> Replies { get; } = [Ready, Status, Ok, Done, Sum, Bye, Error];
}
