package io.afasim.utmd;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventTraceTest
{
    private static void event(final EventTrace trace, final long i, final long task, final long subject)
    {
        trace.record(i, TraceKind.TASK_STEP_BEGIN, 100 + task, task, subject, 2, 1, 1, (int)i, 1);
    }

    @Test
    void ringWrapsOverwritingOldestAndCountsDropped()
    {
        final EventTrace trace = new EventTrace(8);
        for (int i = 0; i < 20; i++)
        {
            event(trace, i, i % 3, i % 2 == 0 ? 7 : 8);
        }
        assertEquals(20, trace.recordedCount());
        assertEquals(12, trace.droppedCount());
        assertEquals(8, trace.size());
        final TraceSnapshot snapshot = new TraceSnapshot(32);
        assertEquals(8, trace.copyAll(snapshot));
        assertEquals(12, snapshot.droppedCount());
        for (int i = 0; i < 8; i++)
        {
            assertEquals(12 + i, snapshot.timestampNs(i), "oldest kept first");
        }
    }

    @Test
    void filtersByTaskSubjectAndCorrelationKeepingNewestWhenSnapshotIsSmall()
    {
        final EventTrace trace = new EventTrace(64);
        for (int i = 0; i < 30; i++)
        {
            event(trace, i, i % 3, i % 2 == 0 ? 7 : 8);
        }
        final TraceSnapshot snapshot = new TraceSnapshot(64);
        assertEquals(10, trace.copyByTask(1, snapshot));
        for (int i = 0; i < snapshot.count(); i++)
        {
            assertEquals(1, snapshot.taskId(i));
            assertEquals(101, snapshot.correlationId(i));
        }
        assertEquals(15, trace.copyBySubject(8, snapshot));
        assertEquals(1, snapshot.timestampNs(0));
        assertEquals(10, trace.copyByCorrelation(102, snapshot));

        final TraceSnapshot small = new TraceSnapshot(4);
        assertEquals(4, trace.copyBySubject(7, small));
        assertEquals(List4.of(22, 24, 26, 28), List4.of(small));
    }

    /** Tiny helper to compare the four timestamps of a snapshot. */
    record List4(long a, long b, long c, long d)
    {
        static List4 of(final long a, final long b, final long c, final long d)
        {
            return new List4(a, b, c, d);
        }

        static List4 of(final TraceSnapshot s)
        {
            return new List4(s.timestampNs(0), s.timestampNs(1), s.timestampNs(2), s.timestampNs(3));
        }
    }

    @Test
    void recordingAndParameterChangesDoNotAllocate()
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final EventTrace trace = new EventTrace(1024);
        final ParameterSet parameters = new ParameterSet(trace);
        final Parameter p = parameters.defineLong(1, "p", 0);
        final int[] notified = new int[1];
        parameters.addListener(id -> notified[0]++);
        for (int i = 0; i < 200_000; i++)
        {
            event(trace, i, 1, 2);
            parameters.setLong(p, i, i);
        }
        final long threadId = Thread.currentThread().getId();
        final long before = threads.getThreadAllocatedBytes(threadId);
        for (int i = 0; i < 100_000; i++)
        {
            event(trace, i, 1, 2);
            parameters.setLong(p, -i - 1, i);
        }
        final long allocated = threads.getThreadAllocatedBytes(threadId) - before;
        assertTrue(allocated < 4096, "allocated " + allocated + " bytes for 200k events");
        assertEquals(300_000 - 1, notified[0]);
    }

    @Test
    void formatterRendersMachineParameterAndJournalEvents()
    {
        final EventTrace trace = new EventTrace(16);
        final ParameterSet parameters = new ParameterSet(trace);
        final Parameter online = parameters.defineInt(3, "peer.online", 1);
        parameters.setInt(online, 0, 1_500_000_000L);
        trace.record(2_000_000_000L, TraceKind.JOURNAL_TORN_TAIL, 0, 0, 0, -1, 0, 0, -1, 17);
        final TraceSnapshot snapshot = new TraceSnapshot(16);
        trace.copyAll(snapshot);
        final String text = new TraceFormatter(null, null, parameters)
            .formatAll(snapshot, 1_000_000_000L, new StringBuilder()).toString();
        assertEquals("+0.500000000s PARAMETER peer.online 1 -> 0\n+1.000000000s JOURNAL torn tail ignored, 17 bytes\n",
            text);
    }
}
