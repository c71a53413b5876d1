namespace SmdSs.Storage;

/// <summary>Writes a new file from its start through a 64 KiB buffer (a compaction's side file).</summary>
internal sealed class SequentialFileWriter(IDiskFile file)
{
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _buffered;
    private long _flushed;

    /// <summary>Where the next byte written lands in the file.</summary>
    public long Position => _flushed + _buffered;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_buffered + data.Length > _buffer.Length)
        {
            Flush();
        }

        if (data.Length >= _buffer.Length)
        {
            file.Write(data, _flushed);
            _flushed += data.Length;
            return;
        }

        data.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += data.Length;
    }

    /// <summary>Hands what is buffered to the file (no fsync).</summary>
    public void Flush()
    {
        if (_buffered > 0)
        {
            file.Write(_buffer.AsSpan(0, _buffered), _flushed);
            _flushed += _buffered;
            _buffered = 0;
        }
    }
}
