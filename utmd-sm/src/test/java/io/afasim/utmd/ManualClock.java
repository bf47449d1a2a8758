package io.afasim.utmd;

import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.NanoClock;

/**
 * Hand-driven clock for tests: nanoTime and epoch ms both advance only when told.
 */
final class ManualClock implements NanoClock, EpochClock
{
    private long nowNs;

    ManualClock(final long startNs)
    {
        this.nowNs = startNs;
    }

    long advance(final long deltaNs)
    {
        nowNs += deltaNs;
        return nowNs;
    }

    public long nanoTime()
    {
        return nowNs;
    }

    public long time()
    {
        return 1_700_000_000_000L + nowNs / 1_000_000L;
    }
}
