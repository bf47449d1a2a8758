package io.afasim.journal;

/**
 * Outcome of {@link MetadataJournal#replay(RedoHandler)}.
 *
 * @param recordCount     records handed to the handler (those with an LSN above the checkpoint LSN).
 * @param lastLsn         LSN of the last good record (the checkpoint LSN when none follows it).
 * @param stopOffsetBytes offset within the journal region where replay stopped; appends continue there.
 * @param stopReason      why replay stopped, e.g. {@code "end of log at offset N: zero fill"},
 *                        {@code "torn record at offset N: checksum mismatch"},
 *                        {@code "stale record at offset N (lsn X, expected Y)"}.
 */
public record ReplayResult(long recordCount, long lastLsn, long stopOffsetBytes, String stopReason)
{
}
