using WebFarm;
using WebFarm.Farm;

// `farm` first: start a whole farm (nodes as child processes behind a load balancer).
// Anything else: run one farm member, configured by the usual ASP.NET sources.
if (args.Length > 0 && args[0] == FarmLauncher.Command)
{
    return await FarmLauncher.RunAsync(args[1..]);
}

WebApplication app = WebFarmApp.Build(args);
await app.RunAsync();
return 0;
