package io.afasim.mirror;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Smoke runs of the {@link LinkRoundTrip} benchmark (small counts): in one JVM, and against a child JVM. */
class LinkRoundTripTest
{
    @Test
    void inOneJvm() throws Exception
    {
        check(LinkRoundTrip.run(false, 200, 1_000, 100_000, 0), 1_000);
    }

    @Test
    void betweenTwoProcesses() throws Exception
    {
        check(LinkRoundTrip.run(true, 500, 2_000, 100_000, 0), 2_000);
    }

    private static void check(final LinkRoundTrip.Result result, final int iterations)
    {
        System.out.println("[afasim] " + result.line());
        assertEquals(iterations, result.caller.getTotalCount());
        assertTrue(result.caller.getValueAtPercentile(50) > 0);
        assertTrue(result.stats.rttCount() > 0, result.stats.toString());
        assertEquals(1, result.stats.epochs(), result.stats.toString());
    }
}
