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
        set(count, timestamp, kindCode, correlation, task, subject, source, from, to, stepIndex, detailValue);
        count++;
    }

    /** Writes event slot {@code index} (used by {@link EventTrace}, whose ring is one of these). */
    void set(
        final int index,
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
        timestampNs[index] = timestamp;
        kind[index] = kindCode;
        correlationId[index] = correlation;
        taskId[index] = task;
        subjectId[index] = subject;
        sourceId[index] = source;
        fromCode[index] = from;
        toCode[index] = to;
        step[index] = stepIndex;
        detail[index] = detailValue;
    }

    /** Appends slot {@code index} of {@code ring}. */
    void addFrom(final TraceSnapshot ring, final int index)
    {
        add(ring.timestampNs[index], ring.kind[index], ring.correlationId[index], ring.taskId[index],
            ring.subjectId[index], ring.sourceId[index], ring.fromCode[index], ring.toCode[index], ring.step[index],
            ring.detail[index]);
    }

    /** Raw slot access for {@link EventTrace}'s filters (no bounds check against {@link #count()}). */
    long rawTaskId(final int index)
    {
        return taskId[index];
    }

    long rawSubjectId(final int index)
    {
        return subjectId[index];
    }

    long rawCorrelationId(final int index)
    {
        return correlationId[index];
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
