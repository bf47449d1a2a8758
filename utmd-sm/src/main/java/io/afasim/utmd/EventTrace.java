package io.afasim.utmd;

/**
 * Bounded ring of events: every parameter change, machine trigger and transition, gate decision and
 * task step. Columns are preallocated primitive arrays, so recording an event allocates nothing. When the
 * ring is full the oldest event is overwritten and counted in {@link #droppedCount()}.
 * <p>
 * Single writer: the agent that owns the parameters, machines and tasks. Readers (an {@code afactl trace}
 * command) run on the same agent and copy a filtered snapshot out with {@code copy*}.
 * <p>
 * Columns: timestamp ns, {@link TraceKind} code, correlation id, task id (0 = none), subject id
 * (e.g. a volume id; 0 = none), source id (machine id or task type id, -1 = none), from / to codes,
 * step index (-1 = none), detail (see {@link TraceKind}).
 */
public final class EventTrace
{
    /** Default capacity: 64 Ki events x 60 bytes = 3.75 MiB. */
    public static final int CAPACITY_DEFAULT = 64 * 1024;

    private final int capacity;
    private final int mask;
    /** The ring's columns: a snapshot-shaped store written round-robin at {@code position & mask}. */
    private final TraceSnapshot ring;
    private long position;

    /**
     * @param capacity events kept; a power of two.
     */
    public EventTrace(final int capacity)
    {
        Verify.argument(capacity > 0 && Integer.bitCount(capacity) == 1, "capacity " + capacity + " not a power of two");
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.ring = new TraceSnapshot(capacity);
    }

    public void record(
        final long nowNs,
        final TraceKind eventKind,
        final long correlation,
        final long task,
        final long subject,
        final int source,
        final int from,
        final int to,
        final int stepIndex,
        final int detailValue)
    {
        ring.set((int)(position & mask), nowNs, eventKind.code(), correlation, task, subject, source, from, to,
            stepIndex, detailValue);
        position++;
    }

    public int capacity()
    {
        return capacity;
    }

    /**
     * @return events recorded since construction, including dropped ones.
     */
    public long recordedCount()
    {
        return position;
    }

    /**
     * @return events overwritten before anyone could read them.
     */
    public long droppedCount()
    {
        return Math.max(0, position - capacity);
    }

    /**
     * @return events currently held.
     */
    public int size()
    {
        return (int)Math.min(position, capacity);
    }

    public int copyAll(final TraceSnapshot out)
    {
        return copy(FILTER_ALL, 0, out);
    }

    /**
     * Copy out the newest events of one task, oldest first.
     *
     * @return events copied.
     */
    public int copyByTask(final long task, final TraceSnapshot out)
    {
        return copy(FILTER_TASK, task, out);
    }

    /**
     * Copy out the newest events of one subject (e.g. a volume id), oldest first.
     *
     * @return events copied.
     */
    public int copyBySubject(final long subject, final TraceSnapshot out)
    {
        return copy(FILTER_SUBJECT, subject, out);
    }

    /**
     * Copy out the newest events with one correlation id, oldest first.
     *
     * @return events copied.
     */
    public int copyByCorrelation(final long correlation, final TraceSnapshot out)
    {
        return copy(FILTER_CORRELATION, correlation, out);
    }

    private static final int FILTER_ALL = 0;
    private static final int FILTER_TASK = 1;
    private static final int FILTER_SUBJECT = 2;
    private static final int FILTER_CORRELATION = 3;

    private boolean matches(final int index, final int filter, final long key)
    {
        switch (filter)
        {
            case FILTER_TASK:
                return ring.rawTaskId(index) == key;
            case FILTER_SUBJECT:
                return ring.rawSubjectId(index) == key;
            case FILTER_CORRELATION:
                return ring.rawCorrelationId(index) == key;
            default:
                return true;
        }
    }

    private int copy(final int filter, final long key, final TraceSnapshot out)
    {
        out.clear();
        final long oldest = position - size();
        // Pass 1, newest to oldest: find where the newest out.capacity() matches start.
        long start = position;
        int matches = 0;
        for (long p = position - 1; p >= oldest && matches < out.capacity(); p--)
        {
            if (matches((int)(p & mask), filter, key))
            {
                start = p;
                matches++;
            }
        }
        // Pass 2, oldest to newest: copy them.
        for (long p = start; p < position && out.count() < matches; p++)
        {
            final int index = (int)(p & mask);
            if (matches(index, filter, key))
            {
                out.addFrom(ring, index);
            }
        }
        out.droppedCount(droppedCount());
        Verify.invariant(out.count() == matches, "snapshot count mismatch");
        return matches;
    }
}
