package io.afasim.controller;

/**
 * FIFO of host requests with the time each entered, preallocated (no allocation per request).
 * Single thread.
 */
final class PendingQueue
{
    private final HostRequest[] requests;
    private final long[] enteredNs;
    private final int mask;
    private long head;
    private long tail;

    PendingQueue(final int capacityPowerOfTwo)
    {
        if (Integer.bitCount(capacityPowerOfTwo) != 1)
        {
            throw new IllegalArgumentException("capacity " + capacityPowerOfTwo + " is not a power of two");
        }
        requests = new HostRequest[capacityPowerOfTwo];
        enteredNs = new long[capacityPowerOfTwo];
        mask = capacityPowerOfTwo - 1;
    }

    void add(final HostRequest request, final long nowNs)
    {
        if (tail - head == requests.length)
        {
            throw new IllegalStateException("pending queue full: " + requests.length);
        }
        final int index = (int)(tail & mask);
        requests[index] = request;
        enteredNs[index] = nowNs;
        tail++;
    }

    boolean isEmpty()
    {
        return head == tail;
    }

    int size()
    {
        return (int)(tail - head);
    }

    HostRequest peek()
    {
        return requests[(int)(head & mask)];
    }

    long peekEnteredNs()
    {
        return enteredNs[(int)(head & mask)];
    }

    void remove()
    {
        requests[(int)(head & mask)] = null;
        head++;
    }

    /** Moves every entry to the end of {@code other}, keeping order. */
    void moveAllTo(final PendingQueue other)
    {
        while (!isEmpty())
        {
            other.add(peek(), peekEnteredNs());
            remove();
        }
    }
}
