package io.afasim.dedup;

import io.afasim.journal.RedoRecordTypes;

/**
 * Redo records of dedup volumes. Each is a logical change that replay re-executes against the state
 * it had when the record was written, so one record per host write is enough: the reference count
 * and fingerprint changes it implies are derived, not logged. Payloads are little-endian (Agrona).
 *
 * <pre>
 * VOLUME_CREATED   | volumeId i32 | sizeBlocks i64 | rangeBlocks i32 |
 * WRITE_NEW        | volumeId i32 | lba i64 | pba i64 | fingerprint 32 bytes |
 * WRITE_DEDUP      | volumeId i32 | lba i64 | pba i64 |
 * UNMAP            | volumeId i32 | lba i64 | blockCount i64 |
 * RELOCATE         | volumeId i32 | pairCount i32 | (oldPba i64, newPba i64) x pairCount |
 * VOLUME_DELETED   | volumeId i32 |
 * </pre>
 */
final class DedupRecords
{
    static final int VOLUME_CREATED = RedoRecordTypes.DEDUP_FIRST;
    static final int WRITE_NEW = RedoRecordTypes.DEDUP_FIRST + 1;
    static final int WRITE_DEDUP = RedoRecordTypes.DEDUP_FIRST + 2;
    static final int UNMAP = RedoRecordTypes.DEDUP_FIRST + 3;
    static final int RELOCATE = RedoRecordTypes.DEDUP_FIRST + 4;
    static final int VOLUME_DELETED = RedoRecordTypes.DEDUP_FIRST + 5;

    static final int VOLUME_ID_OFFSET = 0;
    static final int LBA_OFFSET = 4;
    static final int PBA_OFFSET = 12;
    static final int FINGERPRINT_OFFSET = 20;
    static final int BLOCK_COUNT_OFFSET = 12;
    static final int SIZE_BLOCKS_OFFSET = 4;
    static final int RANGE_BLOCKS_OFFSET = 12;
    static final int PAIR_COUNT_OFFSET = 4;
    static final int PAIRS_OFFSET = 8;

    static final int VOLUME_CREATED_LENGTH = 16;
    static final int WRITE_NEW_LENGTH = FINGERPRINT_OFFSET + Fingerprinter.FINGERPRINT_BYTES;
    static final int WRITE_DEDUP_LENGTH = 20;
    static final int UNMAP_LENGTH = 20;
    static final int VOLUME_DELETED_LENGTH = 4;
    static final int PAIR_BYTES = 16;
    /** Pairs per RELOCATE record; keeps a record well under the journal's payload limit. */
    static final int RELOCATE_PAIRS_MAX = 2048;
    static final int RELOCATE_LENGTH_MAX = PAIRS_OFFSET + RELOCATE_PAIRS_MAX * PAIR_BYTES;

    private DedupRecords()
    {
    }

    static boolean isDedupType(final int type)
    {
        return type >= RedoRecordTypes.DEDUP_FIRST && type <= RedoRecordTypes.DEDUP_LAST;
    }
}
