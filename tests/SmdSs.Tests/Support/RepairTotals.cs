namespace SmdSs.Tests.Support;

/// <summary>Repair work summed over farm processes, from their /smdss/status (each process counts since it started).</summary>
internal static class RepairTotals
{
    public static readonly SmdSsRepairStatus Zero = new(0, 0, 0, 0, 0, 0, 0);

    public static async Task<SmdSsRepairStatus> SumAsync(IEnumerable<FarmProcess> processes)
    {
        SmdSsRepairStatus total = Zero;
        foreach (FarmProcess process in processes)
        {
            total = Add(total, (await process.StatusAsync())!.Repairs);
        }

        return total;
    }

    public static SmdSsRepairStatus Add(SmdSsRepairStatus a, SmdSsRepairStatus b) => Combine(a, b, 1);

    public static SmdSsRepairStatus Subtract(SmdSsRepairStatus a, SmdSsRepairStatus b) => Combine(a, b, -1);

    private static SmdSsRepairStatus Combine(SmdSsRepairStatus a, SmdSsRepairStatus b, int sign) => new(
        a.FullCatchUps + (sign * b.FullCatchUps), a.FullCatchUpBytes + (sign * b.FullCatchUpBytes),
        a.DeltaCatchUps + (sign * b.DeltaCatchUps), a.DeltaCatchUpBytes + (sign * b.DeltaCatchUpBytes),
        a.BucketsRepaired + (sign * b.BucketsRepaired), a.KeysRepaired + (sign * b.KeysRepaired), a.Splits + (sign * b.Splits));
}
