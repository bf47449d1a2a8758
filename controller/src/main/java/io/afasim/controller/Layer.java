package io.afasim.controller;

import java.util.ArrayDeque;

import org.HdrHistogram.Histogram;

/**
 * One layer of a volume's I/O stack as its agent sees it: a request tracker (requests inside the
 * layer), a gate (closed during quiesce: arriving requests are parked in order, never failed) and a
 * latency recorder (time from entering to leaving the layer). Owned by the volume's agent thread;
 * the recorder may be sampled from another thread (HdrHistogram's single-writer recorder).
 */
final class Layer
{
    /** Requests one closed gate may park; the NBD connections' in-flight limits keep arrivals below it. */
    static final int PARKED_MAX = 16 * 1024;
    static final long LATENCY_NS_MAX = 60_000_000_000L;

    private final LayerId id;
    private final ArrayDeque<Object> parked = new ArrayDeque<>(64);
    private final LatencyRecorder latency = new LatencyRecorder();
    private boolean open = true;
    private int inFlight;
    private int inFlightMax;
    private long enteredCount;
    private long parkedCount;

    Layer(final LayerId id)
    {
        this.id = id;
    }

    LayerId id()
    {
        return id;
    }

    boolean isOpen()
    {
        return open;
    }

    /** Closes the gate: from now on {@link #admit} parks. */
    void close()
    {
        open = false;
    }

    /** Opens the gate; the caller re-drives {@link #pollParked()} in order. */
    void open()
    {
        open = true;
    }

    /** True when the request may enter; false when it was parked behind the closed gate. */
    boolean admit(final Object request)
    {
        if (open && parked.isEmpty())
        {
            return true;
        }
        if (parked.size() >= PARKED_MAX)
        {
            throw new IllegalStateException(id.label() + ": more than " + PARKED_MAX + " parked requests");
        }
        parked.addLast(request);
        parkedCount++;
        return false;
    }

    /** Next parked request once the gate is open, else null. */
    Object pollParked()
    {
        return open ? parked.pollFirst() : null;
    }

    /** Takes a parked request even with the gate closed (a volume handed to the peer forwards what waited). */
    Object takeParked()
    {
        return parked.pollFirst();
    }

    int parkedSize()
    {
        return parked.size();
    }

    void enter()
    {
        inFlight++;
        enteredCount++;
        if (inFlight > inFlightMax)
        {
            inFlightMax = inFlight;
        }
    }

    void exit(final long enteredNs, final long nowNs)
    {
        if (inFlight <= 0)
        {
            throw new IllegalStateException(id.label() + ": exit without enter");
        }
        inFlight--;
        latency.recordValue(nowNs - enteredNs);
    }

    int inFlight()
    {
        return inFlight;
    }

    boolean isDrained()
    {
        return inFlight == 0;
    }

    int inFlightMax()
    {
        return inFlightMax;
    }

    long enteredCount()
    {
        return enteredCount;
    }

    long parkedCount()
    {
        return parkedCount;
    }

    /** All latencies recorded so far (any thread; serialize callers). */
    Histogram latencySnapshot()
    {
        return latency.snapshot();
    }
}
