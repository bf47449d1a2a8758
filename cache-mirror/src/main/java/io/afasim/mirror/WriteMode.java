package io.afasim.mirror;

/**
 * A volume's write mode: the rule a write must meet before the host gets its acknowledgement
 * (DESIGN.md §5). A write is never acknowledged on a weaker rule than its volume's mode says; mode
 * changes happen only under quiesce. FLUSH completes when every earlier acknowledged write meets the
 * rule; FUA makes a single write meet it ({@link WriteCache#forceUnitAccess()}).
 */
public enum WriteMode
{
    /**
     * Write-through: acknowledged only when data and metadata redo are durable on the shelf (fdatasync).
     * The controller bypasses the write cache: it sends the write to the pool and acknowledges on the
     * pool's durable completion. A volume enters WT only with a clean cache
     * ({@link WriteCache#writeMode(WriteMode)} refuses otherwise), so no cached page can be older than
     * the shelf; in WT {@link WriteCache#write} and {@link WriteCache#trim} are broken invariants.
     */
    WT,

    /**
     * Mirrored write-back: acknowledged when the page and its descriptor (or the transaction record) are in
     * the local NVMe memory ({@link WriteCache#write} returned {@link CacheStatus#OK}) <b>and</b> the peer
     * has acknowledged its copy, i.e. the peer's acknowledged sequence is at least the write's
     * {@link WriteCache#lastSequence()}. The local copy goes to the peer through the {@link MirrorSink}.
     */
    WB,

    /**
     * One-way write-back (peer down): acknowledged when the page and its descriptor (or the transaction
     * record) are in the local NVMe memory, which the guardian can still harden: as soon as
     * {@link WriteCache#write} returns {@link CacheStatus#OK}.
     */
    ONE_WAY_WB;

    /** True when writes of this mode go through the write cache. */
    public boolean usesCache()
    {
        return this != WT;
    }

    /** True when an acknowledgement also waits for the peer's acknowledgement of the mirrored copy. */
    public boolean needsPeerAcknowledgement()
    {
        return this == WB;
    }
}
