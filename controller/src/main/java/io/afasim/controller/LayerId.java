package io.afasim.controller;

/** The layers of the I/O stack, top down (DESIGN §4). */
public enum LayerId
{
    /** Sends I/O for volumes owned by the peer to it; passes through while this controller owns the volume. */
    FORWARDING("forwarding"),
    /** Volume semantics: range checks, online/offline, write-mode rules, block alignment. */
    VOLUME("volume"),
    /** NVMe write cache: acknowledges 1-way-WB writes, serves read hits, destages. */
    CACHE("cache"),
    /** Dedup engine, log-structured segments, redo batches committed by the journal agent. */
    POOL("pool"),
    /** Shelf drives (pread/pwrite/fdatasync); counted from the drives' own counters. */
    DRIVE("drive");

    public static final LayerId[] TOP_DOWN = values();

    private final String label;

    LayerId(final String label)
    {
        this.label = label;
    }

    public String label()
    {
        return label;
    }
}
