package io.afasim.controller;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

/**
 * A latency histogram written by one agent thread without locks and sampled by other threads: an HdrHistogram
 * single-writer recorder whose intervals are accumulated on each {@link #snapshot()}.
 */
final class LatencyRecorder
{
    private final SingleWriterRecorder recorder = new SingleWriterRecorder(Layer.LATENCY_NS_MAX, 2);
    private final Histogram cumulative = new Histogram(Layer.LATENCY_NS_MAX, 2);
    private Histogram interval;

    /** The writer thread only. */
    void recordValue(final long latencyNs)
    {
        recorder.recordValue(Math.min(Math.max(0, latencyNs), Layer.LATENCY_NS_MAX));
    }

    /** Any thread: everything recorded so far. */
    synchronized Histogram snapshot()
    {
        interval = recorder.getIntervalHistogram(interval);
        cumulative.add(interval);
        return cumulative.copy();
    }
}
