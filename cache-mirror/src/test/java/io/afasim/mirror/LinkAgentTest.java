package io.afasim.mirror;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.afasim.mirror.LinkTestSupport.LinkPair;
import io.afasim.mirror.LinkTestSupport.RecordingHandler;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two links each driven by its own {@link LinkAgent} on an {@link org.agrona.concurrent.AgentRunner} (1 ms-capped
 * backoff), producers on other threads: the way a controller runs them. Bounded polling, no sleeps.
 */
class LinkAgentTest
{
    private static final int VOLUME = 11;
    private static final long WAIT_MS = 60_000;

    private Path dir;
    private LinkPair pair;

    @BeforeEach
    void createDirectory() throws Exception
    {
        dir = TestSupport.shmDirectory();
    }

    @AfterEach
    void closeLinks()
    {
        if (pair != null)
        {
            pair.close();
            assertTrue(pair.agentErrors.isEmpty(), "agent errors: " + pair.agentErrors);
        }
        TestSupport.deleteRecursively(dir);
    }

    /**
     * Checks every page on the link thread as it arrives: consecutive cache sequences, entry and page bytes
     * exactly as the producer made them; optionally refuses deliveries like a slow consumer.
     */
    static final class PageChecker extends RecordingHandler
    {
        private final long seed;
        private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
        private final int stallEvery;
        private final int stallCalls;
        private final int longStallAt1;
        private final int longStallAt2;
        private final int longStallCalls;
        final AtomicReference<String> failure = new AtomicReference<>();
        volatile long nextCacheSequence;
        int expectedRefusals;
        private long stallDecidedFor = -1;

        PageChecker(final long seed, final int stallEvery, final int stallCalls, final int longStallAt1,
            final int longStallAt2, final int longStallCalls)
        {
            this.seed = seed;
            this.stallEvery = stallEvery;
            this.stallCalls = stallCalls;
            this.longStallAt1 = longStallAt1;
            this.longStallAt2 = longStallAt2;
            this.longStallCalls = longStallCalls;
            this.record = false;
        }

        @Override
        public boolean onMirrorPage(
            final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset,
            final int pageOffset)
        {
            final long n = nextCacheSequence;
            if (cacheSequence == n && stallDecidedFor != n)
            {
                // First delivery of message n: decide whether to stall it.
                stallDecidedFor = n;
                if (n == longStallAt1 || n == longStallAt2)
                {
                    refusalsPending = longStallCalls;
                    expectedRefusals += longStallCalls;
                }
                else if (stallEvery > 0 && n % stallEvery == stallEvery - 1)
                {
                    refusalsPending = stallCalls;
                    expectedRefusals += stallCalls;
                }
            }
            if (!accept())
            {
                return false;
            }
            if (volumeId != VOLUME || cacheSequence != n)
            {
                failure.compareAndSet(null, "expected volume " + VOLUME + " cacheSequence " + n + ", got " + volumeId +
                    " / " + cacheSequence);
            }
            else if (!LinkTestSupport.entryMatches(buffer, entryOffset, volumeId, n))
            {
                failure.compareAndSet(null, "entry bytes differ at " + n);
            }
            else if (!TestSupport.matches(buffer, pageOffset, volumeId, n, seed + n, scratch))
            {
                failure.compareAndSet(null, "page bytes differ at " + n);
            }
            nextCacheSequence = n + 1;
            return true;
        }
    }

    @Test
    void tenThousandPagesArriveInOrderIntactAndEveryTicketIsAcked()
    {
        final long seed = TestSupport.seed("LinkAgentTest.tenThousandPages");
        final PageChecker checker = new PageChecker(seed, 0, 0, -1, -1, 0);
        pair = new LinkPair(dir, ctx -> { }, new RecordingHandler(), checker);
        pair.startRunners();
        LinkTestSupport.awaitCondition("both UP", WAIT_MS, () -> pair.a.isUp() && pair.b.isUp());

        final int count = 10_000;
        final long startNs = System.nanoTime();
        final long[] tickets = sendPages(pair.a.newPublisher(), seed, count);
        LinkTestSupport.awaitCondition("last ticket acked", WAIT_MS, () -> pair.a.isAcked(tickets[count - 1]));
        final long elapsedNs = System.nanoTime() - startNs;

        assertNull(checker.failure.get());
        assertEquals(count, checker.applied.get());
        for (int i = 0; i < count; i++)
        {
            assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(tickets[i]), "ticket " + i);
        }
        final LinkStats stats = pair.a.stats();
        System.out.printf("[afasim] %d x 4 KiB pages acked in %d ms (%.0f MiB/s): %s%n", count,
            TimeUnit.NANOSECONDS.toMillis(elapsedNs), count * 4096.0 / (1 << 20) / (elapsedNs / 1e9), stats);
        assertEquals(1, stats.epochs());
        assertEquals(0, stats.linkDowns() + pair.b.stats().staleMessages() + pair.b.stats().malformedMessages());
        assertEquals(count, pair.b.stats().messagesReceived(io.afasim.mirror.sbe.MirrorPageDecoder.TEMPLATE_ID));
    }

    @Test
    void slowConsumerNeitherLosesNorReorders()
    {
        final long seed = TestSupport.seed("LinkAgentTest.slowConsumer");
        // Refuse 3 deliveries on every 97th message, and 300 in a row at messages 1000 and 3000.
        final PageChecker checker = new PageChecker(seed, 97, 3, 1_000, 3_000, 300);
        pair = new LinkPair(dir, ctx -> { }, new RecordingHandler(), checker);
        pair.startRunners();
        LinkTestSupport.awaitCondition("both UP", WAIT_MS, () -> pair.a.isUp() && pair.b.isUp());

        final int count = 5_000;
        final long[] tickets = sendPages(pair.a.newPublisher(), seed, count);
        LinkTestSupport.awaitCondition("last ticket acked", WAIT_MS, () -> pair.a.isAcked(tickets[count - 1]));

        assertNull(checker.failure.get());
        assertEquals(count, checker.applied.get());
        for (int i = 0; i < count; i++)
        {
            assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(tickets[i]), "ticket " + i);
        }
        final LinkStats statsA = pair.a.stats();
        final LinkStats statsB = pair.b.stats();
        System.out.println("[afasim] slow consumer: A " + statsA + "\n[afasim] slow consumer: B " + statsB);
        assertEquals(checker.expectedRefusals, checker.refusals);
        assertEquals(checker.refusals, statsB.handlerDeferrals());
        assertEquals(1, statsA.epochs());
        assertEquals(0, statsA.linkDowns());
        assertTrue(statsA.backPressureRetries() > 0, "the stalls never back-pressured the sender: " + statsA);
    }

    @Test
    void concurrentProducersKeepPerProducerOrderAndTicketsResolve() throws Exception
    {
        final int producers = 3;
        final int perProducer = 3_000;
        final long[][] next = new long[producers][1];
        final AtomicReference<String> failure = new AtomicReference<>();
        final RecordingHandler checker = new RecordingHandler()
        {
            @Override
            public boolean onMirrorRecord(
                final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset)
            {
                if (volumeId < 0 || volumeId >= producers || cacheSequence != next[volumeId][0] ||
                    !LinkTestSupport.entryMatches(buffer, entryOffset, volumeId, cacheSequence))
                {
                    failure.compareAndSet(null, "volume " + volumeId + " cacheSequence " + cacheSequence);
                }
                else
                {
                    next[volumeId][0]++;
                }
                applied.incrementAndGet();
                return true;
            }
        };
        pair = new LinkPair(dir, ctx -> { }, new RecordingHandler(), checker);
        pair.startRunners();
        LinkTestSupport.awaitCondition("both UP", WAIT_MS, () -> pair.a.isUp() && pair.b.isUp());

        final long[][] tickets = new long[producers][perProducer];
        final Thread[] threads = new Thread[producers];
        final AtomicReference<Throwable> producerError = new AtomicReference<>();
        for (int p = 0; p < producers; p++)
        {
            final int volumeId = p;
            threads[p] = new Thread(() ->
            {
                try
                {
                    final LinkPublisher publisher = pair.a.newPublisher();
                    final UnsafeBuffer entry = new UnsafeBuffer(new byte[ChangeEntry.LENGTH_BYTES]);
                    final IdleStrategy idle = new BackoffIdleStrategy(10, 20, 1_000, 100_000);
                    for (int i = 0; i < perProducer; i++)
                    {
                        LinkTestSupport.fillEntry(entry, 0, volumeId, i);
                        long ticket;
                        while ((ticket = publisher.mirrorRecord(volumeId, i, entry, 0)) == LinkPublisher.QUEUE_FULL)
                        {
                            idle.idle();
                        }
                        if (ticket < 0)
                        {
                            throw new IllegalStateException("status " + ticket);
                        }
                        tickets[volumeId][i] = ticket;
                    }
                }
                catch (final Throwable ex)
                {
                    producerError.set(ex);
                }
            }, "producer-" + p);
            threads[p].start();
        }
        for (final Thread thread : threads)
        {
            thread.join(WAIT_MS);
        }
        assertNull(producerError.get());
        LinkTestSupport.awaitCondition("every ticket acked", WAIT_MS, () ->
        {
            for (int p = 0; p < producers; p++)
            {
                if (!pair.a.isAcked(tickets[p][perProducer - 1]))
                {
                    return false;
                }
            }
            return true;
        });
        assertNull(failure.get());
        assertEquals(producers * perProducer, checker.applied.get());
        for (int p = 0; p < producers; p++)
        {
            assertEquals(perProducer, next[p][0]);
            for (int i = 0; i < perProducer; i++)
            {
                assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(tickets[p][i]));
            }
        }
        assertEquals(1, pair.a.stats().epochs());
    }

    /** Sends {@code count} pages (cache sequence, lba and token = index), retrying on QUEUE_FULL. */
    private static long[] sendPages(final LinkPublisher publisher, final long seed, final int count)
    {
        final UnsafeBuffer entry = new UnsafeBuffer(new byte[ChangeEntry.LENGTH_BYTES]);
        final UnsafeBuffer page = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
        final IdleStrategy idle = new BackoffIdleStrategy(10, 20, 1_000, 100_000);
        final long[] tickets = new long[count];
        for (int i = 0; i < count; i++)
        {
            LinkTestSupport.fillEntry(entry, 0, VOLUME, i);
            TestSupport.fill(page, 0, VOLUME, i, seed + i);
            long ticket;
            while ((ticket = publisher.mirrorPage(VOLUME, i, entry, 0, page, 0)) == LinkPublisher.QUEUE_FULL)
            {
                idle.idle();
            }
            assertTrue(ticket > 0, "page " + i + " status " + ticket);
            tickets[i] = ticket;
        }
        return tickets;
    }
}
