using WebFarm;

WebApplication app = WebFarmApp.Build(args);
await app.RunAsync();
