package io.afasim.journal;

/**
 * Registry of redo record types, so that record producers in different modules never collide.
 * Types are stable on disk: never renumber, only add.
 */
public final class RedoRecordTypes
{
    /** 1..15: the journal itself. */
    public static final int JOURNAL_FIRST = 1;
    /** 16..31: extent allocator and segments (tiering-journal). */
    public static final int SEGMENT_ALLOCATED = 16;
    public static final int SEGMENT_FREED = 17;
    public static final int SEGMENT_SEALED = 18;
    /** 32..63: dedup volume metadata. */
    public static final int DEDUP_FIRST = 32;
    public static final int DEDUP_LAST = 63;
    /** 64..127: reserved for the controller (volumes, tasks). */
    public static final int CONTROLLER_FIRST = 64;
    public static final int TYPE_MAX = 0xFFFF;

    private RedoRecordTypes()
    {
    }
}
