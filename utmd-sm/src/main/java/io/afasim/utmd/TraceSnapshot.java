package io.afasim.utmd;

/**
 * A reader's copy of trace events, oldest first. Preallocated with a capacity; reused across reads.
 */
public final class TraceSnapshot
{
    private final int capacity;
    private final long[] timestampNs;
    private final int[] kind;
    private final long[] correlationId;
    private final long[] taskId;
    private final long[] subjectId;
    private final int[] sourceId;
    private final int[] fromCode;
    private final int[] toCode;
    private final int[] step;
    private final int[] detail;
    private int count;
    private long droppedCount;

    public TraceSnapshot(final int capacity)
    {
        Verify.argument(capacity > 0, "capacity " + capacity);
        this.capacity = capacity;
        this.timestampNs = new long[capacity];
        this.kind = new int[capacity];
        this.correlationId = new long[capacity];
        this.taskId = new long[capacity];
        this.subjectId = new long[capacity];
        this.sourceId = new int[capacity];
        this.fromCode = new int[capacity];
        this.toCode = new int[capacity];
        this.step = new int[capacity];
        this.detail = new int[capacity];
    }

    void clear()
    {
        count = 0;
        droppedCount = 0;
    }

    void add(
        final long timestamp,
        final int kindCode,
        final long correlation,
        final long task,
        final long subject,
        final int source,
        final int from,
        final int to,
        final int stepIndex,
        final int detailValue)
    {
        Verify.invariant(count < capacity, "snapshot full");
        timestampNs[count] = timestamp;
        kind[count] = kindCode;
        correlationId[count] = correlation;
        taskId[count] = task;
        subjectId[count] = subject;
        sourceId[count] = source;
        fromCode[count] = from;
        toCode[count] = to;
        step[count] = stepIndex;
        detail[count] = detailValue;
        count++;
    }

    void droppedCount(final long dropped)
    {
        droppedCount = dropped;
    }

    public int capacity()
    {
        return capacity;
    }

    public int count()
    {
        return count;
    }

    /**
     * @return events the trace had dropped (overwritten) when this snapshot was taken.
     */
    public long droppedCount()
    {
        return droppedCount;
    }

    public long timestampNs(final int i)
    {
        return timestampNs[check(i)];
    }

    public TraceKind kind(final int i)
    {
        return TraceKind.fromCode(kind[check(i)]);
    }

    public long correlationId(final int i)
    {
        return correlationId[check(i)];
    }

    public long taskId(final int i)
    {
        return taskId[check(i)];
    }

    public long subjectId(final int i)
    {
        return subjectId[check(i)];
    }

    public int sourceId(final int i)
    {
        return sourceId[check(i)];
    }

    public int fromCode(final int i)
    {
        return fromCode[check(i)];
    }

    public int toCode(final int i)
    {
        return toCode[check(i)];
    }

    public int step(final int i)
    {
        return step[check(i)];
    }

    public int detail(final int i)
    {
        return detail[check(i)];
    }

    private int check(final int i)
    {
        if (i < 0 || i >= count)
        {
            throw new IndexOutOfBoundsException("event " + i + " of " + count);
        }
        return i;
    }
}
