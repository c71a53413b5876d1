using System.Reflection;
using Mono.Cecil;
using Mono.Cecil.Cil;
using NetArchTest.Rules;
using Xunit.Abstractions;

namespace SmdSs.Tests.Architecture;

/// <summary>
/// The folders of <c>SmdSs.Embedded</c> depend on each other one way: no cycle among them, the
/// model at the bottom, nothing but the node itself reaching the node, and the pure folders
/// (decisions over plain data) reaching no socket, file, thread, clock or shared random source.
/// </summary>
public sealed class DependencyRulesTests(ITestOutputHelper output)
{
    private static readonly Assembly Embedded = typeof(SmdSsNode).Assembly;

    // Folders whose code decides over plain data; more join as the core grows.
    private static readonly string[] Pure = ["SmdSs.Hashing", "SmdSs.Model", "SmdSs.Placement", "SmdSs.Core"];

    // Types pure code may not touch at all (sockets, files, threads and their primitives, clocks).
    private static readonly string[] Impure =
    [
        "System.Net", "System.IO.File", "System.IO.Directory", "System.IO.Stream", "System.IO.Pipelines",
        "System.Threading", "System.Collections.Concurrent", "System.TimeProvider", "System.Diagnostics.Stopwatch",
    ];

    // Members it may not call: the clock, shared or unseeded randomness (a seeded Random passed in is fine).
    private static readonly string[] ImpureMembers =
    [
        "System.DateTime::get_Now", "System.DateTime::get_UtcNow", "System.DateTime::get_Today",
        "System.DateTimeOffset::get_Now", "System.DateTimeOffset::get_UtcNow",
        "System.Environment::get_TickCount", "System.Environment::get_TickCount64",
        "System.Random::get_Shared", "System.Random::.ctor()", "System.Guid::NewGuid",
        "System.Security.Cryptography.RandomNumberGenerator::",
    ];

    [Fact]
    public void The_folders_depend_on_each_other_without_a_cycle()
    {
        Dictionary<string, HashSet<string>> graph = Graph();
        foreach ((string from, HashSet<string> to) in graph.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{from} -> {string.Join(", ", to.Order(StringComparer.Ordinal))}");
        }

        Assert.Null(FindCycle(graph));
    }

    [Fact]
    public void The_model_depends_on_nothing_of_the_node_but_hashing()
    {
        string[] others = [.. Namespaces().Where(n => n is not "SmdSs.Model" and not "SmdSs.Hashing")];
        TestResult result = Types.InAssembly(Embedded).That().ResideInNamespace("SmdSs.Model").ShouldNot().HaveDependencyOnAny(others).GetResult();
        Assert.True(result.IsSuccessful, string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void Only_the_node_reaches_the_node()
    {
        List<string> reaching = [.. Types.InAssembly(Embedded).That().HaveDependencyOn(typeof(SmdSsNode).FullName).GetTypes()
            .Where(t => t.Namespace != "SmdSs").Select(t => t.FullName!)];
        Assert.Empty(reaching);
    }

    [Fact]
    public void Pure_folders_reach_no_socket_file_thread_clock_or_shared_random()
    {
        var failures = new List<string>();
        foreach (string folder in Pure)
        {
            TestResult result = Types.InAssembly(Embedded).That().ResideInNamespace(folder).ShouldNot().HaveDependencyOnAny(Impure).GetResult();
            failures.AddRange(result.FailingTypeNames ?? []);
        }

        Assert.True(failures.Count == 0, string.Join(", ", failures));
    }

    [Fact]
    public void Pure_folders_read_no_clock_and_no_shared_random_source()
    {
        List<string> calls = [.. Pure.SelectMany(ImpureCalls)];
        Assert.True(calls.Count == 0, string.Join(Environment.NewLine, calls));
    }

    [Fact]
    public void The_rules_see_a_dependency_where_there_is_one()
    {
        // Known edges and a known impurity: if these are not found, the rules above prove nothing.
        Dictionary<string, HashSet<string>> graph = Graph();
        Assert.Contains("SmdSs.Model", graph["SmdSs.Placement"]);
        Assert.Contains("SmdSs.Protocol", graph["SmdSs.Transport"]);
        Assert.False(Types.InAssembly(Embedded).That().ResideInNamespace("SmdSs.Transport").ShouldNot().HaveDependencyOnAny(Impure).GetResult().IsSuccessful);
        Assert.NotNull(FindCycle(new() { ["a"] = ["b"], ["b"] = ["c"], ["c"] = ["a"] }));
        Assert.Contains(ImpureCalls("SmdSs.Storage"), c => c.Contains("Random::get_Shared", StringComparison.Ordinal));
    }

    // Calls, in the IL of every method of the folder's types (nested and compiler-made ones too), to the members above.
    private static IEnumerable<string> ImpureCalls(string folder)
    {
        using ModuleDefinition module = ModuleDefinition.ReadModule(Embedded.Location);
        List<string> found = [];
        foreach (TypeDefinition type in module.GetTypes().Where(t => Outermost(t).Namespace == folder))
        {
            foreach (MethodDefinition method in type.Methods.Where(m => m.HasBody))
            {
                foreach (Instruction instruction in method.Body.Instructions)
                {
                    if (instruction.Operand is MethodReference called)
                    {
                        string name = $"{called.DeclaringType.FullName}::{called.Name}{(called.Name == ".ctor" ? $"({string.Join(",", called.Parameters.Select(p => p.ParameterType.Name))})" : "")}";
                        if (ImpureMembers.Any(name.StartsWith))
                        {
                            found.Add($"{type.FullName}.{method.Name} calls {name}");
                        }
                    }
                }
            }
        }

        return found;
    }

    private static TypeDefinition Outermost(TypeDefinition type) => type.DeclaringType is { } outer ? Outermost(outer) : type;

    private static List<string> Namespaces() =>
        [.. Embedded.GetTypes().Select(t => t.Namespace).OfType<string>().Where(n => n.StartsWith("SmdSs.", StringComparison.Ordinal)).Distinct()];

    // Edges between the folders' namespaces (the root namespace, the node and its public API, is left out).
    private static Dictionary<string, HashSet<string>> Graph()
    {
        List<string> namespaces = Namespaces();
        var graph = namespaces.ToDictionary(n => n, _ => new HashSet<string>());
        foreach (string from in namespaces)
        {
            foreach (string to in namespaces.Where(n => n != from))
            {
                bool depends = Types.InAssembly(Embedded).That().ResideInNamespace(from).And().HaveDependencyOn(to).GetTypes()
                    .Any(t => t.Namespace == from);
                if (depends)
                {
                    graph[from].Add(to);
                }
            }
        }

        return graph;
    }

    private static string? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>();
        var path = new Stack<string>();
        foreach (string start in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (Visit(start) is { } cycle)
            {
                return cycle;
            }
        }

        return null;

        string? Visit(string node)
        {
            if (state.GetValueOrDefault(node) == 1)
            {
                return string.Join(" -> ", path.Reverse().SkipWhile(n => n != node).Append(node));
            }

            if (state.GetValueOrDefault(node) == 2)
            {
                return null;
            }

            state[node] = 1;
            path.Push(node);
            foreach (string next in graph.GetValueOrDefault(node, []).Order(StringComparer.Ordinal))
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            path.Pop();
            state[node] = 2;
            return null;
        }
    }
}
